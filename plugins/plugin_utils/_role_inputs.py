# -*- coding: utf-8 -*-
# Copyright: (c) 2026, msp.conditional_access contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which variable a role input came from, for messages that name what the user set (controller side only)."""

from __future__ import annotations

from jinja2 import Environment, meta

_ENV = Environment()


def source_variables(raw, defined, exclude=()):
    """The user-settable variables a role default reads, in the order they appear.

    ``raw`` is the default as written in defaults/main.yml, e.g. "{{ technician_policy_state | default('report_only') }}";
    ``defined`` the variables that exist for the host. Only the defined ones count (the user set them), minus
    ``exclude`` (the role's own options, which the spec checks under their own names). A default that reads
    nothing the user set gives [].
    """
    if not isinstance(raw, str) or "{{" not in raw:
        return []
    try:
        names = meta.find_undeclared_variables(_ENV.parse(raw))
    except Exception:  # a template jinja2 cannot parse is reported by the templating itself
        return []
    ordered = sorted(names, key=raw.find)
    return [n for n in ordered if n in defined and n not in set(exclude)]
