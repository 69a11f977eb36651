# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Runs the ca_mfa_coverage_info module in the controller's worker process (see plugins/plugin_utils/_in_process.py)."""
from __future__ import annotations

from ansible_collections.msp.conditional_access.plugins.plugin_utils._in_process import action_for

ActionModule = action_for(__name__)
