"""The CLI in a child process that trusts generated files: ``python tests/trusting_cli.py MD5_JSON ARGS...``.

The fixtures trust the generated data's MD5s in-process; a child process (a killed `fit`, DDP ranks,
which Lightning starts by running this same command again) must be told them.
"""

import json
import sys

from mnist_lit import cli_main
from mnist_lit.data import raw_files

if __name__ == "__main__":
    raw_files.EXPECTED_MD5.update(json.loads(sys.argv[1]))
    cli_main(sys.argv[2:])
