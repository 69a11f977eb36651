"""python -m sandbox serve --fixture sandbox/fixtures/demo.json [--port N] [--state-dir D] [--no-validate]"""

import argparse
import json
import signal
import sys

from .server import serve


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sandbox")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("serve", help="start the HTTPS sandbox")
    run.add_argument("--fixture", default="sandbox/fixtures/demo.json")
    run.add_argument("--port", type=int, default=0)
    run.add_argument("--state-dir", default=".sandbox")
    run.add_argument("--no-validate", action="store_true", help="skip the Graph schema validation of requests")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))

    def ready(info):
        print(json.dumps({k: info[k] for k in ("url", "ca_bundle", "env_file", "pid")}), flush=True)

    try:
        serve(args.fixture, args.port, args.state_dir, validate=not args.no_validate, ready=ready)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
