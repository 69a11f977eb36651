# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only callback: writes every task result (and when each task started) to the file named by MSP_CA_RESULTS_FILE."""

from __future__ import annotations

DOCUMENTATION = r"""
name: result_recorder
type: aggregate
short_description: record task results as JSON for the test suite
description: Writes every task result to the file named by the environment variable MSP_CA_RESULTS_FILE.
requirements: [enable in configuration]
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "result_recorder"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.results = []
        self.stats = {}
        self.starts = []  # [task name, wall-clock start]: ties sandbox log entries to the task that sent them

    def _record(self, status, result):
        data = self._clean(result._result)
        if status == "failed":
            data["failed"] = True  # ansible-core 2.19 keeps the flag out of _result
        self.results.append({
            "task": result.task_name or result._task.get_name(),
            "action": result._task.action,
            "host": result._host.get_name(),
            "status": status,
            "result": data,
        })

    @staticmethod
    def _clean(data):
        return json.loads(json.dumps(data, default=str))

    def v2_playbook_on_task_start(self, task, is_conditional):
        self.starts.append([task.get_name(), time.time()])

    def v2_runner_on_ok(self, result):
        self._record("ok", result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record("failed", result)

    def v2_runner_on_skipped(self, result):
        self._record("skipped", result)

    def v2_runner_on_unreachable(self, result):
        self._record("unreachable", result)

    def v2_playbook_on_stats(self, stats):
        summary = {host: stats.summarize(host) for host in stats.processed}
        path = os.environ.get("MSP_CA_RESULTS_FILE")
        if path:
            with open(path, "w") as handle:
                json.dump({"results": self.results, "stats": summary, "starts": self.starts}, handle)
