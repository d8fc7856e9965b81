"""LocalAgreement-n: commit the part of a streaming transcript that successive hypotheses agree on.

A streaming recogniser re-decodes the growing audio of the current utterance every few hundred
milliseconds. Each decode gives a *hypothesis* for the whole utterance so far. Text that the last
``n`` hypotheses all begin with is unlikely to change, so it is *committed* (``stable``); the rest
of the newest hypothesis is shown as ``unstable``. Committed text never changes; it only grows.

Chinese has no spaces, and a model may give "社保" as one token in one decode and "社", "保" in the
next, so by default every token is split into single characters (times shared out evenly) before
comparing. Pure: values in, values out.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from jiesu.engine.events import TimedToken


def split_chars(tokens: Sequence[TimedToken]) -> tuple[TimedToken, ...]:
    """Split multi-character tokens into one token per character, sharing out the time span."""
    out: list[TimedToken] = []
    for tok in tokens:
        n = len(tok.text)
        if n <= 1:
            out.append(tok)
            continue
        span = tok.t_end - tok.t_start
        for i, ch in enumerate(tok.text):
            start = tok.t_start + span * i // n
            end = tok.t_start + span * (i + 1) // n
            out.append(TimedToken(ch, start, end, tok.probability))
    return tuple(out)


def _join(tokens: Sequence[TimedToken]) -> str:
    return "".join(t.text for t in tokens)


@dataclass(frozen=True, slots=True)
class Agreement:
    """The state of the utterance after one hypothesis."""

    #: Everything committed so far in this utterance (never changes, only grows).
    stable: tuple[TimedToken, ...]
    #: The newest hypothesis beyond the committed part; may change with the next one.
    unstable: tuple[TimedToken, ...]
    #: The tokens that this hypothesis committed (a suffix of ``stable``).
    newly_committed: tuple[TimedToken, ...]

    @property
    def stable_text(self) -> str:
        return _join(self.stable)

    @property
    def unstable_text(self) -> str:
        return _join(self.unstable)

    @property
    def text(self) -> str:
        return self.stable_text + self.unstable_text

    @property
    def stable_chars(self) -> int:
        """Leading characters of :attr:`text` that will not change (TranscriptPartial field)."""
        return len(self.stable_text)

    @property
    def tokens(self) -> tuple[TimedToken, ...]:
        return self.stable + self.unstable


def _identity(text: str) -> str:
    return text


class LocalAgreement:
    """Feed whole-utterance hypotheses with :meth:`insert`; :meth:`finish` at the endpoint.

    ``key`` maps a token's text to what is compared (e.g. to ignore punctuation differences);
    ``per_char`` splits tokens into characters first (right for Chinese).
    """

    def __init__(
        self, n: int = 2, *, per_char: bool = True, key: Callable[[str], str] = _identity
    ) -> None:
        if n < 1:
            raise ValueError("n must be at least 1")
        self._n = n
        self._per_char = per_char
        self._key = key
        self._committed: list[TimedToken] = []
        # Tails (parts beyond the committed prefix) of the last n hypotheses.
        self._history: deque[tuple[TimedToken, ...]] = deque(maxlen=n)

    @property
    def n(self) -> int:
        return self._n

    @property
    def committed(self) -> tuple[TimedToken, ...]:
        return tuple(self._committed)

    def insert(self, hypothesis: Sequence[TimedToken]) -> Agreement:
        """Take the newest hypothesis for the whole utterance so far; commit what n agree on."""
        tail = self._tail(hypothesis)
        self._history.append(tail)
        newly: tuple[TimedToken, ...] = ()
        if len(self._history) == self._n:
            agreed = self._common_prefix(list(self._history))
            if agreed:
                # Timings come from the newest hypothesis: it saw the most audio.
                newly = tail[:agreed]
                self._committed.extend(newly)
                trimmed = [h[agreed:] for h in self._history]
                self._history.clear()
                self._history.extend(trimmed)
        return Agreement(tuple(self._committed), self._history[-1], newly)

    def finish(self, hypothesis: Sequence[TimedToken] | None = None) -> Agreement:
        """End the utterance: everything becomes stable, then the state is reset.

        ``hypothesis`` is the final decode of the whole utterance; without one, the newest
        unstable tail is committed as it stands.
        """
        if hypothesis is not None:
            tail = self._tail(hypothesis)
        else:
            tail = self._history[-1] if self._history else ()
        stable = (*self._committed, *tail)
        self.reset()
        return Agreement(stable, (), tail)

    def reset(self) -> None:
        """Forget the utterance (start of a new one)."""
        self._committed.clear()
        self._history.clear()

    def _tail(self, hypothesis: Sequence[TimedToken]) -> tuple[TimedToken, ...]:
        """The part of ``hypothesis`` beyond what is already committed."""
        hyp = split_chars(hypothesis) if self._per_char else tuple(hypothesis)
        k = len(self._committed)
        if k == 0:
            return hyp
        if len(hyp) >= k and all(
            self._key(a.text) == self._key(b.text)
            for a, b in zip(hyp[:k], self._committed, strict=True)
        ):
            return hyp[k:]
        # The model changed its mind about committed text. Committed text stays as it is, so
        # keep only what this hypothesis says about later audio: tokens centred after the end
        # of the committed part.
        end = self._committed[-1].t_end
        return tuple(t for t in hyp if (t.t_start + t.t_end) / 2 > end)

    def _common_prefix(self, tails: list[tuple[TimedToken, ...]]) -> int:
        shortest = min(len(t) for t in tails)
        for i in range(shortest):
            k = self._key(tails[0][i].text)
            if any(self._key(t[i].text) != k for t in tails[1:]):
                return i
        return shortest
