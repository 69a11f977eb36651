"""Start the sandbox as a subprocess for tests, the demo and the benchmark."""

import json
import os
import shlex
import subprocess
import sys
import threading
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
            key, value = shlex.split(line[len("export "):])[0].split("=", 1)
            self.env.setdefault(key, value)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def start_sandbox(fixture, state_dir, port=0, validate=True, timeout=60):
    """Start `python -m sandbox serve` as a subprocess and wait for its ready line.

    Returns a handle with .url, .ca_bundle, .env (AZURE_*, MSGRAPH_ENDPOINT, CIPP_API_URL, CA variables),
    .client (SandboxClient) and .stop(). The server's stderr is inherited.
    """
    cmd = [sys.executable, "-m", "sandbox", "serve", "--fixture", str(fixture), "--port", str(port),
           "--state-dir", str(state_dir)]
    if not validate:
        cmd.append("--no-validate")
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    process = subprocess.Popen(cmd, cwd=str(REPO), env=env, stdout=subprocess.PIPE, text=True)
    lines = []
    reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not lines or not lines[0]:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        raise RuntimeError("the sandbox did not start within %ss (exit %s); see its stderr above"
                           % (timeout, process.returncode))
    return SandboxHandle(process, json.loads(lines[0]))
