"""Tests for lorastudio.machine.hardware: parsing recorded nvidia-smi / npu-smi output,
detection, rules.

The recorded outputs below are copied verbatim from /work/shared/fixtures (see SOURCE.md there)
so that these tests are self-contained.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lorastudio.machine.hardware import (
    NPU_SMI_ARGV,
    NVIDIA_SMI_CSV_ARGV,
    NVIDIA_SMI_TABLE_ARGV,
    Accelerator,
    DeviceUnavailableError,
    Hardware,
    check_device_ids,
    detect,
    parse_npu_smi,
    parse_nvidia_smi_csv,
    parse_nvidia_smi_table,
    resolve_device,
)

REPO_ROOT = Path(__file__).resolve().parents[1]

# npu-smi 24.1.rc1.b030, 8 x 910B3, idle. No process section. Source: modelscope/ms-swift,
# docs/source_en/BestPractices/NPU-support.md lines 345-374,
# commit 3602360a562313afbf2ef6065fdf61f271a2c5b9 (Apache-2.0).
NPU_SMI_910B3_8CARD_IDLE = """\
+------------------------------------------------------------------------------------------------+
| npu-smi 24.1.rc1.b030            Version: 24.1.rc1.b030                                        |
+---------------------------+---------------+----------------------------------------------------+
| NPU   Name                | Health        | Power(W)    Temp(C)           Hugepages-Usage(page)|
| Chip                      | Bus-Id        | AICore(%)   Memory-Usage(MB)  HBM-Usage(MB)        |
+===========================+===============+====================================================+
| 0     910B3               | OK            | 101.8       43                0    / 0             |
| 0                         | 0000:C1:00.0  | 0           0    / 0          3318 / 65536         |
+===========================+===============+====================================================+
| 1     910B3               | OK            | 92.0        39                0    / 0             |
| 0                         | 0000:C2:00.0  | 0           0    / 0          3314 / 65536         |
+===========================+===============+====================================================+
| 2     910B3               | OK            | 102.0       40                0    / 0             |
| 0                         | 0000:81:00.0  | 0           0    / 0          3314 / 65536         |
+===========================+===============+====================================================+
| 3     910B3               | OK            | 99.8        40                0    / 0             |
| 0                         | 0000:82:00.0  | 0           0    / 0          3314 / 65536         |
+===========================+===============+====================================================+
| 4     910B3               | OK            | 98.6        45                0    / 0             |
| 0                         | 0000:01:00.0  | 0           0    / 0          3314 / 65536         |
+===========================+===============+====================================================+
| 5     910B3               | OK            | 99.7        44                0    / 0             |
| 0                         | 0000:02:00.0  | 0           0    / 0          3314 / 65536         |
+===========================+===============+====================================================+
| 6     910B3               | OK            | 103.8       45                0    / 0             |
| 0                         | 0000:41:00.0  | 0           0    / 0          3314 / 65536         |
+===========================+===============+====================================================+
| 7     910B3               | OK            | 98.2        44                0    / 0             |
| 0                         | 0000:42:00.0  | 0           0    / 0          3315 / 65536         |
+===========================+===============+====================================================+
"""


# npu-smi 24.1.rc1, 16 x 910B2C, busy, with a process table. Source: vllm-project/vllm-ascend
# issue #264 (collect_env output, 2025-03-07). Note `59356/ 65536` without a space.
NPU_SMI_910B2C_16CARD_BUSY = """\
+------------------------------------------------------------------------------------------------+
| npu-smi 24.1.rc1                 Version: 24.1.rc1                                             |
+---------------------------+---------------+----------------------------------------------------+
| NPU   Name                | Health        | Power(W)    Temp(C)           Hugepages-Usage(page)|
| Chip                      | Bus-Id        | AICore(%)   Memory-Usage(MB)  HBM-Usage(MB)        |
+===========================+===============+====================================================+
| 0     910B2C              | OK            | 86.8        35                0    / 0             |
| 0                         | 0000:66:00.0  | 0           0    / 0          59356/ 65536         |
+===========================+===============+====================================================+
| 1     910B2C              | OK            | 103.1       37                0    / 0             |
| 0                         | 0000:19:00.0  | 0           0    / 0          59351/ 65536         |
+===========================+===============+====================================================+
| 2     910B2C              | OK            | 94.0        36                0    / 0             |
| 0                         | 0000:52:00.0  | 0           0    / 0          59351/ 65536         |
+===========================+===============+====================================================+
| 3     910B2C              | OK            | 95.1        36                0    / 0             |
| 0                         | 0000:3F:00.0  | 0           0    / 0          59351/ 65536         |
+===========================+===============+====================================================+
| 4     910B2C              | OK            | 91.0        36                0    / 0             |
| 0                         | 0000:E3:00.0  | 0           0    / 0          59346/ 65536         |
+===========================+===============+====================================================+
| 5     910B2C              | OK            | 104.0       38                0    / 0             |
| 0                         | 0000:99:00.0  | 0           0    / 0          59351/ 65536         |
+===========================+===============+====================================================+
| 6     910B2C              | OK            | 95.3        36                0    / 0             |
| 0                         | 0000:BD:00.0  | 0           0    / 0          59351/ 65536         |
+===========================+===============+====================================================+
| 7     910B2C              | OK            | 97.5        36                0    / 0             |
| 0                         | 0000:CF:00.0  | 0           0    / 0          59351/ 65536         |
+===========================+===============+====================================================+
| 8     910B2C              | OK            | 103.2       36                0    / 0             |
| 0                         | 0000:65:00.0  | 0           0    / 0          59353/ 65536         |
+===========================+===============+====================================================+
| 9     910B2C              | OK            | 90.4        36                0    / 0             |
| 0                         | 0000:18:00.0  | 0           0    / 0          59345/ 65536         |
+===========================+===============+====================================================+
| 10    910B2C              | OK            | 99.7        36                0    / 0             |
| 0                         | 0000:51:00.0  | 0           0    / 0          59351/ 65536         |
+===========================+===============+====================================================+
| 11    910B2C              | OK            | 90.7        37                0    / 0             |
| 0                         | 0000:3E:00.0  | 0           0    / 0          59345/ 65536         |
+===========================+===============+====================================================+
| 12    910B2C              | OK            | 88.2        36                0    / 0             |
| 0                         | 0000:E2:00.0  | 0           0    / 0          59345/ 65536         |
+===========================+===============+====================================================+
| 13    910B2C              | OK            | 98.0        35                0    / 0             |
| 0                         | 0000:98:00.0  | 0           0    / 0          59351/ 65536         |
+===========================+===============+====================================================+
| 14    910B2C              | OK            | 98.6        35                0    / 0             |
| 0                         | 0000:BE:00.0  | 0           0    / 0          59351/ 65536         |
+===========================+===============+====================================================+
| 15    910B2C              | OK            | 104.2       35                0    / 0             |
| 0                         | 0000:D0:00.0  | 0           0    / 0          59351/ 65536         |
+===========================+===============+====================================================+
+---------------------------+---------------+----------------------------------------------------+
| NPU     Chip              | Process id    | Process name             | Process memory(MB)      |
+===========================+===============+====================================================+
| 0       0                 | 418635        | vllm                     | 56057                   |
+===========================+===============+====================================================+
| 1       0                 | 418709        | rayNPURayWork            | 56063                   |
+===========================+===============+====================================================+
| 2       0                 | 418694        | rayNPURayWork            | 56062                   |
+===========================+===============+====================================================+
| 3       0                 | 418711        | rayNPURayWork            | 56063                   |
+===========================+===============+====================================================+
| 4       0                 | 418705        | rayNPURayWork            | 56057                   |
+===========================+===============+====================================================+
| 5       0                 | 418704        | rayNPURayWork            | 56063                   |
+===========================+===============+====================================================+
| 6       0                 | 418697        | rayNPURayWork            | 56063                   |
+===========================+===============+====================================================+
| 7       0                 | 418695        | rayNPURayWork            | 56063                   |
+===========================+===============+====================================================+
| 8       0                 | 418693        | rayNPURayWork            | 56063                   |
+===========================+===============+====================================================+
| 9       0                 | 418696        | rayNPURayWork            | 56057                   |
+===========================+===============+====================================================+
| 10      0                 | 418700        | rayNPURayWork            | 56063                   |
+===========================+===============+====================================================+
| 11      0                 | 418701        | rayNPURayWork            | 56057                   |
+===========================+===============+====================================================+
| 12      0                 | 418710        | rayNPURayWork            | 56057                   |
+===========================+===============+====================================================+
| 13      0                 | 418698        | rayNPURayWork            | 56063                   |
+===========================+===============+====================================================+
| 14      0                 | 418712        | rayNPURayWork            | 56063                   |
+===========================+===============+====================================================+
| 15      0                 | 418714        | rayNPURayWork            | 56063                   |
+===========================+===============+====================================================+
"""


# npu-smi 25.2.3, Atlas A3: 8 NPU cards x 2 chips (Phy-ID 0-15), NPUs 0, 1, 6, 7 busy.
# Source: vllm-project/vllm-ascend issue #4930 (collect_env output, 2025-12-11).
NPU_SMI_A3_8NPU_16CHIP_BUSY = """\
+------------------------------------------------------------------------------------------------+
| npu-smi 25.2.3                   Version: 25.2.3                                               |
+---------------------------+---------------+----------------------------------------------------+
| NPU   Name                | Health        | Power(W)    Temp(C)           Hugepages-Usage(page)|
| Chip  Phy-ID              | Bus-Id        | AICore(%)   Memory-Usage(MB)  HBM-Usage(MB)        |
+===========================+===============+====================================================+
| 0     Ascend910           | OK            | 232.5       52                0    / 0             |
| 0     0                   | 0000:9D:00.0  | 17          0    / 0          53444/ 65536         |
+------------------------------------------------------------------------------------------------+
| 0     Ascend910           | OK            | -           51                0    / 0             |
| 1     1                   | 0000:9F:00.0  | 17          0    / 0          52948/ 65536         |
+===========================+===============+====================================================+
| 1     Ascend910           | OK            | 226.9       51                0    / 0             |
| 0     2                   | 0000:99:00.0  | 17          0    / 0          53200/ 65536         |
+------------------------------------------------------------------------------------------------+
| 1     Ascend910           | OK            | -           52                0    / 0             |
| 1     3                   | 0000:9B:00.0  | 17          0    / 0          52940/ 65536         |
+===========================+===============+====================================================+
| 2     Ascend910           | OK            | 175.3       52                0    / 0             |
| 0     4                   | 0000:95:00.0  | 0           0    / 0          3128 / 65536         |
+------------------------------------------------------------------------------------------------+
| 2     Ascend910           | OK            | -           52                0    / 0             |
| 1     5                   | 0000:97:00.0  | 0           0    / 0          2888 / 65536         |
+===========================+===============+====================================================+
| 3     Ascend910           | OK            | 170.6       51                0    / 0             |
| 0     6                   | 0000:91:00.0  | 0           0    / 0          3122 / 65536         |
+------------------------------------------------------------------------------------------------+
| 3     Ascend910           | OK            | -           51                0    / 0             |
| 1     7                   | 0000:93:00.0  | 0           0    / 0          2888 / 65536         |
+===========================+===============+====================================================+
| 4     Ascend910           | OK            | 167.2       51                0    / 0             |
| 0     8                   | 0000:8D:00.0  | 0           0    / 0          3136 / 65536         |
+------------------------------------------------------------------------------------------------+
| 4     Ascend910           | OK            | -           49                0    / 0             |
| 1     9                   | 0000:8F:00.0  | 0           0    / 0          2895 / 65536         |
+===========================+===============+====================================================+
| 5     Ascend910           | OK            | 174.5       51                0    / 0             |
| 0     10                  | 0000:89:00.0  | 0           0    / 0          3130 / 65536         |
+------------------------------------------------------------------------------------------------+
| 5     Ascend910           | OK            | -           50                0    / 0             |
| 1     11                  | 0000:8B:00.0  | 0           0    / 0          2895 / 65536         |
+===========================+===============+====================================================+
| 6     Ascend910           | OK            | 243.3       53                0    / 0             |
| 0     12                  | 0000:85:00.0  | 17          0    / 0          50719/ 65536         |
+------------------------------------------------------------------------------------------------+
| 6     Ascend910           | OK            | -           50                0    / 0             |
| 1     13                  | 0000:87:00.0  | 17          0    / 0          50242/ 65536         |
+===========================+===============+====================================================+
| 7     Ascend910           | OK            | 248.0       52                0    / 0             |
| 0     14                  | 0000:81:00.0  | 17          0    / 0          50494/ 65536         |
+------------------------------------------------------------------------------------------------+
| 7     Ascend910           | OK            | -           52                0    / 0             |
| 1     15                  | 0000:83:00.0  | 17          0    / 0          50242/ 65536         |
+===========================+===============+====================================================+
+---------------------------+---------------+----------------------------------------------------+
| NPU     Chip              | Process id    | Process name             | Process memory(MB)      |
+===========================+===============+====================================================+
| 0       0                 | 3325989       |                          | 50128                   |
| 0       0                 | 3330598       |                          | 132                     |
| 0       0                 | 3328327       |                          | 133                     |
| 0       0                 | 3333165       |                          | 132                     |
| 0       1                 | 3328327       |                          | 50119                   |
+===========================+===============+====================================================+
| 1       0                 | 3330598       |                          | 50117                   |
| 1       1                 | 3333165       |                          | 50119                   |
+===========================+===============+====================================================+
| No running processes found in NPU 2                                                            |
+===========================+===============+====================================================+
| No running processes found in NPU 3                                                            |
+===========================+===============+====================================================+
| No running processes found in NPU 4                                                            |
+===========================+===============+====================================================+
| No running processes found in NPU 5                                                            |
+===========================+===============+====================================================+
| 6       0                 | 3085960       |                          | 47426                   |
| 6       0                 | 3085961       |                          | 122                     |
| 6       0                 | 3085962       |                          | 122                     |
| 6       0                 | 3085964       |                          | 122                     |
| 6       1                 | 3085961       |                          | 47416                   |
+===========================+===============+====================================================+
| 7       0                 | 3085962       |                          | 47416                   |
| 7       1                 | 3085964       |                          | 47416                   |
+===========================+===============+====================================================+
"""


# Plain `nvidia-smi`, driver 565.57.01, 8 x H100 80GB HBM3, idle. Source: thamada/nvidia-smi
# gls/H100SXMx8_smi.py @ c4c8a463a61e4ac67e3d7956da104b302760a498 (Apache-2.0). The recorded
# output has one line of 89 spaces between the GPU and Processes blocks; it is rebuilt
# with " " * 89 so that editors and linters do not strip it.
NVIDIA_SMI_H100_8GPU_IDLE = (
    """\
+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI 565.57.01              Driver Version: 565.57.01      CUDA Version: 12.7     |
|-----------------------------------------+------------------------+----------------------+
| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |
| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |
|                                         |                        |               MIG M. |
|=========================================+========================+======================|
|   0  NVIDIA H100 80GB HBM3          On  |   00000000:18:00.0 Off |                    0 |
| N/A   30C    P0            100W /  700W |       1MiB /  81559MiB |      0%      Default |
|                                         |                        |             Disabled |
+-----------------------------------------+------------------------+----------------------+
|   1  NVIDIA H100 80GB HBM3          On  |   00000000:2A:00.0 Off |                    0 |
| N/A   30C    P0             82W /  700W |       1MiB /  81559MiB |      0%      Default |
|                                         |                        |             Disabled |
+-----------------------------------------+------------------------+----------------------+
|   2  NVIDIA H100 80GB HBM3          On  |   00000000:3A:00.0 Off |                    0 |
| N/A   31C    P0             85W /  700W |       1MiB /  81559MiB |      0%      Default |
|                                         |                        |             Disabled |
+-----------------------------------------+------------------------+----------------------+
|   3  NVIDIA H100 80GB HBM3          On  |   00000000:5D:00.0 Off |                    0 |
| N/A   30C    P0             85W /  700W |       1MiB /  81559MiB |      0%      Default |
|                                         |                        |             Disabled |
+-----------------------------------------+------------------------+----------------------+
|   4  NVIDIA H100 80GB HBM3          On  |   00000000:9A:00.0 Off |                    0 |
| N/A   28C    P0             84W /  700W |       1MiB /  81559MiB |      0%      Default |
|                                         |                        |             Disabled |
+-----------------------------------------+------------------------+----------------------+
|   5  NVIDIA H100 80GB HBM3          On  |   00000000:AB:00.0 Off |                    0 |
| N/A   30C    P0             85W /  700W |       1MiB /  81559MiB |      0%      Default |
|                                         |                        |             Disabled |
+-----------------------------------------+------------------------+----------------------+
|   6  NVIDIA H100 80GB HBM3          On  |   00000000:BA:00.0 Off |                    0 |
| N/A   29C    P0             86W /  700W |       1MiB /  81559MiB |      0%      Default |
|                                         |                        |             Disabled |
+-----------------------------------------+------------------------+----------------------+
|   7  NVIDIA H100 80GB HBM3          On  |   00000000:DB:00.0 Off |                    0 |
| N/A   29C    P0             75W /  700W |       1MiB /  81559MiB |      0%      Default |
|                                         |                        |             Disabled |
+-----------------------------------------+------------------------+----------------------+
"""
    + " " * 89
    + """
+-----------------------------------------------------------------------------------------+
| Processes:                                                                              |
|  GPU   GI   CI        PID   Type   Process name                              GPU Memory |
|        ID   ID                                                               Usage      |
|=========================================================================================|
|  No running processes found                                                             |
+-----------------------------------------------------------------------------------------+
"""
)

# Captured for these tests on a 1 x H100 machine (driver 580.159.04, CUDA 13.0, 2026-11-23) with
# exactly the argv detect() uses: NVIDIA_SMI_CSV_ARGV.
NVIDIA_SMI_CSV_H100_CAPTURED = "0, NVIDIA H100 80GB HBM3, 81559, 0\n"

# Plain `nvidia-smi` on the same machine. The first line (a timestamp) ends in 7 spaces,
# rebuilt with " " * 7 so that linters do not strip them.
NVIDIA_SMI_H100_1GPU_DRIVER_580 = (
    "Mon Nov 23 03:03:49 2026"
    + " " * 7
    + """
+-----------------------------------------------------------------------------------------+
| NVIDIA-SMI 580.159.04             Driver Version: 580.159.04     CUDA Version: 13.0     |
+-----------------------------------------+------------------------+----------------------+
| GPU  Name                 Persistence-M | Bus-Id          Disp.A | Volatile Uncorr. ECC |
| Fan  Temp   Perf          Pwr:Usage/Cap |           Memory-Usage | GPU-Util  Compute M. |
|                                         |                        |               MIG M. |
|=========================================+========================+======================|
|   0  NVIDIA H100 80GB HBM3          On  |   00000000:00:06.0 Off |                    0 |
| N/A   36C    P0            122W /  700W |       0MiB /  81559MiB |      0%      Default |
|                                         |                        |             Disabled |
+-----------------------------------------+------------------------+----------------------+

+-----------------------------------------------------------------------------------------+
| Processes:                                                                              |
|  GPU   GI   CI              PID   Type   Process name                        GPU Memory |
|        ID   ID                                                               Usage      |
|=========================================================================================|
|  No running processes found                                                             |
+-----------------------------------------------------------------------------------------+
"""
)

# Written for these tests in the captured form above: two GPUs, one of them busy.
NVIDIA_SMI_CSV_2GPU = "0, NVIDIA H100 80GB HBM3, 81559, 1\n1, NVIDIA H100 80GB HBM3, 81559, 40000\n"

# The header and units form seen in real pastes with more columns
# (`index, name, memory.total [MiB], memory.used [MiB], ...`).
NVIDIA_SMI_CSV_WITH_HEADER_AND_UNITS = (
    "index, name, memory.total [MiB], memory.used [MiB], utilization.gpu [%]\n"
    "0, NVIDIA RTX A6000, 49140 MiB, 15 MiB, 0 %\n"
)

GARBAGE_OUTPUTS = [
    "",
    "\n\n",
    "garbage",
    "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.\n",
    "dcmi model initialized failed, because the device is used. ret is -8020\n",
    "| 0 | 1 |\n| a | b | c |\n",
    "0, , 1, 2\nx, name, 1, 2\n0, name, lots, 2\n",
]


def npu_machine(text: str = NPU_SMI_910B3_8CARD_IDLE) -> Hardware:
    return Hardware(cuda=(), npu=tuple(parse_npu_smi(text)), cpu_count=192)


def gpu_machine() -> Hardware:
    gpus = tuple(parse_nvidia_smi_table(NVIDIA_SMI_H100_8GPU_IDLE))
    return Hardware(cuda=gpus, npu=(), cpu_count=224)


CPU_ONLY = Hardware(cuda=(), npu=(), cpu_count=8)


# --- npu-smi ---------------------------------------------------------------------------------


def test_910b3_idle_table_lists_eight_npus_with_their_hbm() -> None:
    npus = parse_npu_smi(NPU_SMI_910B3_8CARD_IDLE)
    assert [n.index for n in npus] == list(range(8))
    assert {n.name for n in npus} == {"910B3"}
    assert {n.kind for n in npus} == {"npu"}
    assert npus[0] == Accelerator("npu", 0, "910B3", 65536, 3318)
    assert npus[7].memory_used_mib == 3315
    assert npus[7].memory_free_mib == 65536 - 3315


def test_910b2c_busy_table_reads_hbm_written_without_a_space_before_the_slash() -> None:
    npus = parse_npu_smi(NPU_SMI_910B2C_16CARD_BUSY)
    assert len(npus) == 16
    assert {n.name for n in npus} == {"910B2C"}
    assert (npus[0].memory_used_mib, npus[0].memory_total_mib) == (59356, 65536)
    assert (npus[9].memory_used_mib, npus[9].memory_total_mib) == (59345, 65536)


def test_process_table_rows_are_not_mistaken_for_devices() -> None:
    # Both files end with a process table whose rows look like "| 0   0 | 418635 | ... |".
    assert len(parse_npu_smi(NPU_SMI_910B2C_16CARD_BUSY)) == 16
    assert len(parse_npu_smi(NPU_SMI_A3_8NPU_16CHIP_BUSY)) == 16


def test_a3_table_exposes_one_device_per_chip_numbered_like_the_phy_id_column() -> None:
    chips = parse_npu_smi(NPU_SMI_A3_8NPU_16CHIP_BUSY)
    assert [c.index for c in chips] == list(range(16))
    assert {c.name for c in chips} == {"Ascend910"}
    # NPU card 0 holds chips 0 and 1; card 2 (idle) holds chips 4 and 5; card 7 chips 14, 15.
    assert chips[1].memory_used_mib == 52948
    assert chips[4].memory_used_mib == 3128
    assert chips[5].memory_used_mib == 2888
    assert chips[15] == Accelerator("npu", 15, "Ascend910", 65536, 50242)


def test_npu_table_without_a_process_section_still_ends_cleanly() -> None:
    truncated = NPU_SMI_910B3_8CARD_IDLE.rsplit("| 7 ", 1)[0]
    assert len(parse_npu_smi(truncated)) == 7


# --- nvidia-smi ------------------------------------------------------------------------------


def test_plain_nvidia_smi_table_lists_eight_h100s() -> None:
    gpus = parse_nvidia_smi_table(NVIDIA_SMI_H100_8GPU_IDLE)
    assert [g.index for g in gpus] == list(range(8))
    assert {g.name for g in gpus} == {"NVIDIA H100 80GB HBM3"}
    assert gpus[0] == Accelerator("cuda", 0, "NVIDIA H100 80GB HBM3", 81559, 1)
    assert gpus[5].memory_free_mib == 81558


def test_plain_table_from_a_newer_driver_with_a_timestamp_line_is_parsed() -> None:
    gpus = parse_nvidia_smi_table(NVIDIA_SMI_H100_1GPU_DRIVER_580)
    assert gpus == [Accelerator("cuda", 0, "NVIDIA H100 80GB HBM3", 81559, 0)]


def test_csv_captured_from_a_real_h100_is_parsed() -> None:
    gpus = parse_nvidia_smi_csv(NVIDIA_SMI_CSV_H100_CAPTURED)
    assert gpus == [Accelerator("cuda", 0, "NVIDIA H100 80GB HBM3", 81559, 0)]


def test_csv_query_output_is_parsed_line_by_line() -> None:
    gpus = parse_nvidia_smi_csv(NVIDIA_SMI_CSV_2GPU)
    assert gpus == [
        Accelerator("cuda", 0, "NVIDIA H100 80GB HBM3", 81559, 1),
        Accelerator("cuda", 1, "NVIDIA H100 80GB HBM3", 81559, 40000),
    ]
    assert gpus[1].memory_free_mib == 41559


def test_csv_with_a_header_units_and_extra_columns_is_tolerated() -> None:
    gpus = parse_nvidia_smi_csv(NVIDIA_SMI_CSV_WITH_HEADER_AND_UNITS)
    assert gpus == [Accelerator("cuda", 0, "NVIDIA RTX A6000", 49140, 15)]


def test_csv_memory_reported_as_not_available_reads_as_zero() -> None:
    gpus = parse_nvidia_smi_csv("0, NVIDIA GH200 480GB, 97871, [N/A]\n")
    assert gpus == [Accelerator("cuda", 0, "NVIDIA GH200 480GB", 97871, 0)]


@pytest.mark.parametrize("parse", [parse_nvidia_smi_csv, parse_nvidia_smi_table, parse_npu_smi])
@pytest.mark.parametrize("text", GARBAGE_OUTPUTS)
def test_garbage_or_empty_output_yields_no_devices(parse: Any, text: str) -> None:
    assert parse(text) == []


def test_each_parser_finds_nothing_in_the_other_tools_output() -> None:
    assert parse_npu_smi(NVIDIA_SMI_H100_8GPU_IDLE) == []
    assert parse_nvidia_smi_table(NPU_SMI_A3_8NPU_16CHIP_BUSY) == []
    assert parse_nvidia_smi_csv(NPU_SMI_910B2C_16CARD_BUSY) == []
    assert parse_nvidia_smi_csv(NVIDIA_SMI_H100_8GPU_IDLE) == []


def test_free_memory_is_never_negative() -> None:
    assert Accelerator("cuda", 0, "odd", 100, 150).memory_free_mib == 0


def test_cpu_kind_has_no_accelerators_and_unknown_kinds_are_rejected() -> None:
    hardware = gpu_machine()
    assert hardware.devices("cpu") == ()
    assert len(hardware.devices("cuda")) == 8
    assert hardware.devices("npu") == ()
    with pytest.raises(ValueError, match="unknown device kind"):
        hardware.devices("tpu")


# --- detect() --------------------------------------------------------------------------------


class FakeRun:
    """Stands in for subprocess.run: maps an argv to stdout text, an exit code, or an error."""

    def __init__(self, answers: dict[tuple[str, ...], str | int | BaseException]) -> None:
        self.answers = answers
        self.calls: list[tuple[list[str], dict[str, Any]]] = []

    def __call__(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        self.calls.append((argv, kwargs))
        answer = self.answers.get(tuple(argv), FileNotFoundError(2, "No such file", argv[0]))
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, int):
            return subprocess.CompletedProcess(argv, answer, stdout="", stderr="failed")
        return subprocess.CompletedProcess(argv, 0, stdout=answer, stderr="")


def test_detect_handles_a_missing_nvidia_smi_and_finds_the_npus() -> None:
    run = FakeRun({tuple(NPU_SMI_ARGV): NPU_SMI_910B3_8CARD_IDLE})
    hardware = detect(run=run)
    assert hardware.cuda == ()
    assert len(hardware.npu) == 8
    assert hardware.npu[3].name == "910B3"
    assert hardware.cpu_count >= 1
    # A missing binary is not retried with the plain-table fallback.
    assert [argv for argv, _ in run.calls] == [NVIDIA_SMI_CSV_ARGV, NPU_SMI_ARGV]


def test_detect_reads_gpus_from_the_csv_query() -> None:
    hardware = detect(run=FakeRun({tuple(NVIDIA_SMI_CSV_ARGV): NVIDIA_SMI_CSV_2GPU}))
    assert [g.memory_used_mib for g in hardware.cuda] == [1, 40000]
    assert hardware.npu == ()


def test_detect_falls_back_to_the_plain_table_when_the_csv_lists_nothing() -> None:
    run = FakeRun(
        {
            tuple(NVIDIA_SMI_CSV_ARGV): "unexpected\n",
            tuple(NVIDIA_SMI_TABLE_ARGV): NVIDIA_SMI_H100_8GPU_IDLE,
        }
    )
    assert len(detect(run=run).cuda) == 8


def test_detect_treats_failures_timeouts_and_garbage_as_no_devices() -> None:
    run = FakeRun(
        {
            tuple(NVIDIA_SMI_CSV_ARGV): 9,
            tuple(NPU_SMI_ARGV): subprocess.TimeoutExpired(NPU_SMI_ARGV, 10),
        }
    )
    assert detect(run=run) == Hardware(cuda=(), npu=(), cpu_count=detect(run=run).cpu_count)
    run = FakeRun({tuple(NVIDIA_SMI_CSV_ARGV): PermissionError(13, "denied")})
    assert detect(run=run).cuda == ()
    run = FakeRun({tuple(NPU_SMI_ARGV): "npu-smi: command output nobody expected\n"})
    assert detect(run=run).npu == ()


def test_detect_runs_argv_lists_without_a_shell_and_with_a_timeout() -> None:
    run = FakeRun({})
    detect(run=run)
    assert run.calls
    for argv, kwargs in run.calls:
        assert isinstance(argv, list)
        assert not kwargs.get("shell", False)
        assert 0 < kwargs["timeout"] <= 30


# --- resolve_device() ------------------------------------------------------------------------


def test_auto_prefers_npu_over_cuda() -> None:
    both = Hardware(cuda=gpu_machine().cuda, npu=npu_machine().npu, cpu_count=8)
    assert resolve_device("auto", both) == "npu"


def test_auto_picks_cuda_when_there_is_no_npu() -> None:
    assert resolve_device("auto", gpu_machine()) == "cuda"


def test_auto_falls_back_to_cpu_without_accelerators() -> None:
    assert resolve_device("auto", CPU_ONLY) == "cpu"


def test_cpu_is_always_available() -> None:
    assert resolve_device("cpu", CPU_ONLY) == "cpu"
    assert resolve_device("cpu", npu_machine()) == "cpu"


def test_an_explicit_kind_that_is_present_is_used_as_is() -> None:
    assert resolve_device(" NPU ", npu_machine()) == "npu"
    assert resolve_device("cuda", gpu_machine()) == "cuda"


def test_explicit_cuda_on_a_cpu_only_machine_raises_with_a_helpful_message() -> None:
    with pytest.raises(DeviceUnavailableError) as caught:
        resolve_device("cuda", CPU_ONLY)
    message = str(caught.value)
    assert caught.value.requested == "cuda"
    assert "no NVIDIA GPU" in message
    assert "no GPU or NPU; 8 CPU cores" in message
    assert "hardware.device: auto or cpu" in message


def test_explicit_npu_on_a_gpu_machine_names_the_gpus_and_suggests_cuda() -> None:
    with pytest.raises(DeviceUnavailableError) as caught:
        resolve_device("npu", gpu_machine())
    message = str(caught.value)
    assert caught.value.requested == "npu"
    assert "8 NVIDIA GPUs (ids 0-7: NVIDIA H100 80GB HBM3)" in message
    assert "hardware.device: cuda or auto or cpu" in message


def test_an_unknown_device_name_is_rejected() -> None:
    with pytest.raises(ValueError, match="expected one of auto, cuda, npu, cpu"):
        resolve_device("tpu", CPU_ONLY)


# --- check_device_ids() ----------------------------------------------------------------------


def test_existing_device_ids_have_no_problems() -> None:
    assert check_device_ids("npu", [0, 3, 7], npu_machine()) == []
    assert check_device_ids("cuda", [1], gpu_machine()) == []


def test_no_ids_means_all_devices_and_is_fine() -> None:
    assert check_device_ids("npu", None, npu_machine()) == []
    assert check_device_ids("cuda", [], CPU_ONLY) == []


def test_unknown_ids_are_reported_with_what_the_machine_has() -> None:
    problems = [str(m) for m in check_device_ids("npu", [0, 8], npu_machine())]
    assert len(problems) == 1
    assert "npu device id 8" in problems[0]
    assert "ASCEND_RT_VISIBLE_DEVICES" in problems[0]
    assert "8 Ascend NPUs (ids 0-7: 910B3)" in problems[0]


def test_duplicate_ids_are_reported() -> None:
    assert [str(m) for m in check_device_ids("cuda", [2, 2], gpu_machine())] == [
        "cuda device id 2 is listed more than once"
    ]


def test_a3_chip_ids_beyond_the_card_count_are_valid() -> None:
    assert check_device_ids("npu", [8, 15], npu_machine(NPU_SMI_A3_8NPU_16CHIP_BUSY)) == []


def test_ids_for_gpus_on_a_machine_without_gpus_say_none_was_found() -> None:
    problems = [str(m) for m in check_device_ids("cuda", [0], CPU_ONLY)]
    assert problems == [
        "cuda device id 0 (CUDA_VISIBLE_DEVICES) does not exist on this machine; "
        "found no NVIDIA GPU"
    ]


def test_ids_given_for_the_cpu_are_reported() -> None:
    assert len(check_device_ids("cpu", [0], CPU_ONLY)) == 1


# --- import hygiene --------------------------------------------------------------------------


def test_importing_the_module_loads_neither_torch_nor_gradio() -> None:
    code = (
        "import sys, lorastudio.machine.hardware\n"
        "heavy = ('torch', 'gradio', 'transformers', 'torch_npu')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
