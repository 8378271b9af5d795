"""SentencePiece tokenisation of normalised text (`bpe.model` of the checkpoint)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sentencepiece import SentencePieceProcessor

from indextts.errors import CheckpointError
from indextts.text.normalizer import TextNormalizer
from indextts.text.rules import split_cjk

# The GPT's start/stop text tokens are the tokenizer's <s> and </s>.
BOS_ID = 0
EOS_ID = 1


class TextTokenizer:
    """text → normalised, CJK-split, upper-cased text → SentencePiece pieces → ids."""

    def __init__(self, bpe_model: str | Path, normalizer: TextNormalizer | None) -> None:
        path = Path(bpe_model)
        if not path.is_file():
            raise CheckpointError(f"{path}: tokenizer model not found (it ships with the checkpoint as bpe.model)")
        try:
            self.sp = SentencePieceProcessor(model_file=str(path))
        except (OSError, RuntimeError) as exc:
            raise CheckpointError(f"{path}: not a SentencePiece model ({exc})") from None
        self.normalizer = normalizer

    @property
    def vocab_size(self) -> int:
        return self.sp.GetPieceSize()

    @property
    def unk_id(self) -> int:
        return self.sp.unk_id()

    def prepare(self, text: str, chinese: bool | None = None) -> str:
        """The string handed to SentencePiece.

        Upstream leaves a text of one visible character as it is (no normalisation, no
        upper-casing); everything else is normalised and CJK-split. `chinese` forces the
        normaliser's language (a part of a text is read in the language of the whole).
        """
        if len(text.strip()) == 1:
            return text
        if self.normalizer is not None:
            text = self.normalizer.normalize(text, chinese)
        return split_cjk(text)

    def tokenize(self, text: str, chinese: bool | None = None) -> list[str]:
        if not text:
            return []
        return self.sp.Encode(self.prepare(text, chinese), out_type=str)

    def to_ids(self, pieces: Sequence[str]) -> list[int]:
        return [self.sp.PieceToId(piece) for piece in pieces]

    def encode(self, text: str) -> list[int]:
        return self.to_ids(self.tokenize(text))

    def unknown_pieces(self, pieces: Sequence[str]) -> list[str]:
        """Pieces the vocabulary does not know (they are read as <unk>)."""
        unk = self.unk_id
        return [piece for piece, id_ in zip(pieces, self.to_ids(pieces), strict=True) if id_ == unk]
