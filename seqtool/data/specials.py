"""The special token ids every vocabulary starts with.

They live here, below models, decoding and tokenizers alike, so that a model can mask padding and a
decoder can stop at end-of-sentence without importing the tokenizer code (or anything above it).
"""

PAD, UNK, BOS, EOS = 0, 1, 2, 3
SPECIAL_PIECES = ("<pad>", "<unk>", "<bos>", "<eos>")  # their pieces, in id order
