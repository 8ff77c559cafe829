"""The exception types that reach the user as a single line instead of a traceback."""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix: the message names the key or file, what is wrong and the fix."""


class SettingError(UserError):
    """A component's own setting is wrong. The component knows the field, not the config group
    it was composed under; unlearn/components.py adds the group, so the line names the full key."""

    def __init__(self, field: str, value: object, why: str, group: str | None = None):
        self.field, self.value, self.why, self.group = field, value, why, group
        super().__init__(f"{group + '.' if group else ''}{field}={value} {why}")

    def within(self, group: str) -> SettingError:
        return SettingError(self.field, self.value, self.why, f"{group}.{self.group}" if self.group else group)
