"""Japanese text: normalization, masking of personal data, tokenization with MeCab, date words.

Everything the model learns from passes through `preprocess` (normalize, then mask) and then `tag`
(MeCab via fugashi + unidic-lite: person names masked, word tokens). The public functions are
re-exported here; the submodules hold one step each.
"""

from classifier.text.masking import (
    NAME,
    PLACEHOLDERS,
    mask,
    mask_name_contexts,
    order_numbers,
    preprocess,
)
from classifier.text.normalization import nfkc, normalize
from classifier.text.tagging import TaggedText, mask_names, redact, tag, tokenize

__all__ = [
    "NAME",
    "PLACEHOLDERS",
    "TaggedText",
    "mask",
    "mask_name_contexts",
    "mask_names",
    "nfkc",
    "normalize",
    "order_numbers",
    "preprocess",
    "redact",
    "tag",
    "tokenize",
]
