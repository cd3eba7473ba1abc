"""The run's cards sampled while it trains (lorastudio.machine.usage): nvidia-smi's query and
npu-smi's table read into memory and utilisation, recorded npu-smi tables from real machines."""

from __future__ import annotations

from conftest import FIXTURES

from lorastudio.machine.usage import (
    NVIDIA_USAGE_ARGV,
    CardUsage,
    parse_npu_usage,
    parse_nvidia_usage,
    sample,
    visible_indices,
)

NPU_SMI = FIXTURES / "npu-smi"


def test_nvidia_smis_query_reads_into_memory_and_utilisation():
    text = "0, 98304, 143771, 97\n1, 1, 143771, [N/A]\nnot a row\n"
    assert parse_nvidia_usage(text) == [
        CardUsage(0, 98304, 143771, 97),
        CardUsage(1, 1, 143771, None),
    ]


def test_a_busy_910b2c_reads_hbm_and_aicore_per_chip():
    cards = parse_npu_usage((NPU_SMI / "910b2c-16card-busy.txt").read_text())
    assert len(cards) == 16
    assert cards[0] == CardUsage(0, 59356, 65536, 0)
    assert [c.index for c in cards] == list(range(16))


def test_an_idle_910b3_reads_as_idle():
    cards = parse_npu_usage((NPU_SMI / "910b3-8card-idle.txt").read_text())
    assert len(cards) == 8 and all(
        c.utilization == 0 and c.memory_total_mib == 65536 for c in cards
    )


def test_sample_asks_the_tool_and_keeps_the_runs_cards_only():
    asked = []

    def run(argv, timeout):
        asked.append(argv)

        class Done:
            returncode, stdout = 0, "0, 10, 100, 5\n1, 20, 100, 50\n2, 30, 100, 95\n"

        return Done()

    assert [c.index for c in sample("cuda", [1, 2], run=run)] == [1, 2]
    assert asked == [NVIDIA_USAGE_ARGV]
    assert sample("cpu", None, run=run) == [] and len(asked) == 1


def test_a_missing_tool_gives_no_sample():
    def run(argv, timeout):
        raise FileNotFoundError(argv[0])

    assert sample("npu", None, run=run) == []


def test_the_visible_cards_come_from_the_runs_environment():
    assert visible_indices({"CUDA_VISIBLE_DEVICES": "2,3"}) == [2, 3]
    assert visible_indices({"ASCEND_RT_VISIBLE_DEVICES": "0"}) == [0]
    assert visible_indices({}) is None
