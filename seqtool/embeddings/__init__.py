"""Word embeddings with gensim: training into the workspace, loading, neighbours and analogies.

Training streams the corpus from disk with gensim's ``corpus_file`` mode (the fast multi-core
path: every worker reads its own slice of the file) when the file is plain UTF-8 with ``\\n`` line
ends, and otherwise through a restartable line iterator. Nothing here loads the corpus into memory.

A model folder holds::

    config.json    kind "embeddings", arch "skipgram"|"cbow", settings, corpus statistics
    vectors.bin    the KeyedVectors in the original word2vec binary format (gensim's own writer)
    counts.json    [[word, count], ...] in vector order (most frequent first)
    metrics.jsonl  one row per epoch

Loading reads ``vectors.bin`` with ``KeyedVectors.load_word2vec_format``: no code path unpickles.
"""

from seqtool.embeddings.training import (
    DEFAULT_NAME,
    EmbeddingSettings,
    EpochReport,
    TrainResult,
    check_corpus,
    train_embeddings,
)
from seqtool.embeddings.vectors import (
    KIND,
    Embeddings,
    Neighbour,
    OutOfVocabularyError,
    analogy,
    load_embeddings,
    neighbours,
    save_vectors,
)

__all__ = [
    "DEFAULT_NAME",
    "KIND",
    "EmbeddingSettings",
    "Embeddings",
    "EpochReport",
    "Neighbour",
    "OutOfVocabularyError",
    "TrainResult",
    "analogy",
    "check_corpus",
    "load_embeddings",
    "neighbours",
    "save_vectors",
    "train_embeddings",
]
