"""Data: reading corpora, text normalization, tokenizers, special ids, batches; the corpus registry and
downloader. Imports nothing above :mod:`seqtool.errors` and :mod:`seqtool.files`."""
