# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Modules that change things: full check mode and diff.
    DOCUMENTATION = r"""
attributes:
  check_mode:
    description: Can run in check mode and return the changed status and diff without writing anything.
    support: full
  diff_mode:
    description: Returns before and after in names people know (UPNs, group and location names).
    support: full
"""

    # Read-only modules.
    INFO_MODULE = r"""
attributes:
  check_mode:
    description: Read-only, so it runs the same in check mode.
    support: full
  diff_mode:
    description: Read-only; there is nothing to diff.
    support: N/A
"""
