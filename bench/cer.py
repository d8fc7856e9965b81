"""Character error rate: Levenshtein edits between reference and hypothesis characters.

Both strings must already be normalised the same way (see the speech core's scoring
normaliser); this module only counts.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CharErrors:
    substitutions: int
    deletions: int
    insertions: int
    reference_chars: int

    @property
    def edits(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def cer(self) -> float:
        """Edits per reference character (an empty reference scores 0 or 1)."""
        if self.reference_chars == 0:
            return 0.0 if self.insertions == 0 else 1.0
        return self.edits / self.reference_chars

    def __add__(self, other: CharErrors) -> CharErrors:
        return CharErrors(
            self.substitutions + other.substitutions,
            self.deletions + other.deletions,
            self.insertions + other.insertions,
            self.reference_chars + other.reference_chars,
        )


NO_ERRORS = CharErrors(0, 0, 0, 0)


def char_errors(reference: str, hypothesis: str) -> CharErrors:
    """Minimum edits turning ``reference`` into ``hypothesis``, split by kind."""
    ref, hyp = list(reference), list(hypothesis)
    # Each cell holds (total, substitutions, deletions, insertions) of the best path so far.
    previous = [(j, 0, 0, j) for j in range(len(hyp) + 1)]
    for i in range(1, len(ref) + 1):
        current = [(i, 0, i, 0)]
        for j in range(1, len(hyp) + 1):
            if ref[i - 1] == hyp[j - 1]:
                current.append(previous[j - 1])
                continue
            sub, dele, ins = previous[j - 1], previous[j], current[j - 1]
            best = min(
                (sub[0] + 1, sub[1] + 1, sub[2], sub[3]),
                (dele[0] + 1, dele[1], dele[2] + 1, dele[3]),
                (ins[0] + 1, ins[1], ins[2], ins[3] + 1),
            )
            current.append(best)
        previous = current
    _, s, d, n = previous[-1]
    return CharErrors(s, d, n, len(ref))
