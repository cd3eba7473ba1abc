"""LoRA Studio's entry point.

python launch.py                              open the studio in the browser
python launch.py train recipes/cpu-smoke.yaml train headless (see --help for every command)
"""

import sys
from pathlib import Path

from lorastudio.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], root=Path(__file__).resolve().parent))
