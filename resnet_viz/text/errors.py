"""Refusals a person reads, as a locale key and its placeholders: pages translate them, str() is the English text.

The library never writes prose into an error; resnet_viz/text/locale/<lang>.json holds every sentence.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from resnet_viz.text import i18n

__all__ = ["AttributionError", "Reason", "UserError", "WeightsError"]


@dataclass(frozen=True)
class Reason:
    """Why something is (not) used: a locale key and its placeholders. str() is the English text."""

    key: str
    params: dict = field(default_factory=dict)

    def text(self, lang: str = i18n.DEFAULT_LANG) -> str:
        # A placeholder may itself be a Reason (a nested "why"); it is translated into the same language.
        params = {k: v.text(lang) if isinstance(v, Reason) else v for k, v in self.params.items()}
        # i18n.t(key, lang) without placeholders gives the raw text; formatting here lets "key" be a placeholder.
        return i18n.t(self.key, lang).format(**params)

    def __str__(self) -> str:
        return self.text(i18n.DEFAULT_LANG)


class UserError(ValueError):
    """A refusal with a reason key and params: `exc.text(lang)` for a page, str(exc) (English) for the CLI.

    Params not named in the text (e.g. a library's own error detail) ride along for logs and tests.
    """

    def __init__(self, key: str, /, **params) -> None:  # positional-only: "key" may also be a placeholder
        super().__init__(key)
        self.key = key
        self.params = params

    @property
    def reason(self) -> Reason:
        return Reason(self.key, self.params)

    def text(self, lang: str = i18n.DEFAULT_LANG) -> str:
        return self.reason.text(lang)

    def __str__(self) -> str:
        return self.text(i18n.DEFAULT_LANG)

    def __reduce__(self):  # keep key and params across pickling (process pools, caches)
        return (_rebuild, (type(self), self.key, self.params))


def _rebuild(cls: type[UserError], key: str, params: dict) -> UserError:
    return cls(key, **params)


class WeightsError(UserError, RuntimeError):
    """A weight source cannot be used: exc.key / exc.params say why (str(exc) is the English text)."""


class AttributionError(ValueError):
    """An attribution request cannot be served (unknown layer, class, method...); the message is for a person."""
