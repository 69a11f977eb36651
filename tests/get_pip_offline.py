"""Stand-in for the get-pip.py bootstrap script that ansible-test downloads from ci-files.testing.ansible.com.

This machine reaches PyPI but no other host, so tests/sanity.sh puts this file where ansible-test caches
the script. ansible-test runs it as __main__ with pip's install arguments (for example ``pip==24.2``):
bootstrap pip from the interpreter's own ensurepip wheel, then let that pip install what was asked.
"""

import ensurepip
import os
import subprocess
import sys

# get-pip.py's own flags, which pip install does not know
GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}

if __name__ == "__main__":
    ensurepip.bootstrap(upgrade=True)
    # ensurepip points PIP_CONFIG_FILE at /dev/null; the machine's pip config (index, CA) must apply again
    os.environ.pop("PIP_CONFIG_FILE", None)
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]
    sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", "-q"] + args))
