"""Start the sandbox as a subprocess for tests, the demo and the benchmark."""

import json
import os
import subprocess
import sys
from pathlib import Path

from .client import SandboxClient

REPO = Path(__file__).resolve().parents[1]


class SandboxHandle:
    def __init__(self, process, info):
        self.process = process
        self.url = info["url"]
        self.ca_bundle = info["ca_bundle"]
        self.env_file = info["env_file"]
        self.client = SandboxClient(self.url, self.ca_bundle)
        self.env = {"AZURE_AUTHORITY_HOST": self.url, "MSGRAPH_ENDPOINT": self.url, "CIPP_API_URL": self.url,
                    "REQUESTS_CA_BUNDLE": self.ca_bundle, "SSL_CERT_FILE": self.ca_bundle}
        for line in Path(self.env_file).read_text().splitlines():
            key, value = line[len("export "):].split("=", 1)
            self.env.setdefault(key, value)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start_sandbox(fixture, state_dir, port=0, validate=True, timeout=60):
    """Start `python -m sandbox serve` and wait for its ready line."""
    cmd = [sys.executable, "-m", "sandbox", "serve", "--fixture", str(fixture), "--port", str(port),
           "--state-dir", str(state_dir)]
    if not validate:
        cmd.append("--no-validate")
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    process = subprocess.Popen(cmd, cwd=str(REPO), env=env, stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if not line:
        process.wait(timeout)
        raise RuntimeError("the sandbox did not start (exit %s)" % process.returncode)
    return SandboxHandle(process, json.loads(line))
