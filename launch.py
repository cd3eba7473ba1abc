"""LoRA Studio's entry point.

python launch.py                              open the studio in the browser
python launch.py --host 0.0.0.0 --auth u:p    the studio, reachable from other machines
python launch.py train recipes/cpu-smoke.yaml train headless (see --help for every command)
"""

import contextlib
import sys
from pathlib import Path

from lorastudio.cli.exit_codes import ExitCode
from lorastudio.cli.main import main
from ui.options import is_studio_call
from ui.options import main as studio
from ui.options import parser as studio_parser

if __name__ == "__main__":
    argv, root = sys.argv[1:], Path(__file__).resolve().parent
    if is_studio_call(argv):
        sys.exit(studio(argv, root))
    if argv[:1] in (["-h"], ["--help"]):  # the commands' help, then the studio's options
        with contextlib.suppress(SystemExit):
            main(argv, root=root)
        print("\nWithout a command: " + studio_parser().format_help().removeprefix("usage: "))
        sys.exit(ExitCode.OK)
    sys.exit(main(argv, root=root))
