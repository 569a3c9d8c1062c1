"""Language ID for `seqtool data prepare`: py3langid (its model ships in the wheel), run on batches of lines."""

from __future__ import annotations

# Languages: those py3langid tells apart badly (counted as one), and py3langid itself, batched.
_CLOSE = [frozenset({"id", "ms"}), frozenset({"bs", "hr", "sr"}), frozenset({"nb", "nn", "no", "da"})]


def close_languages(lang: str) -> frozenset[str]:
    return next((g for g in _CLOSE if lang in g), frozenset({lang}))


class LanguageID:
    """py3langid's naive Bayes model (normalized probabilities), run on a batch of lines at once.

    py3langid walks a byte automaton in Python, one line at a time (about 20 µs for a 50-character line). Here
    the automaton steps every line of a batch together with numpy, and one sparse product scores the batch: about
    5 µs a line. That reads py3langid 0.4's model arrays; the batched probabilities are compared with py3langid's
    own on probe sentences first, and on any difference (another py3langid) each line goes through py3langid's
    ``rank`` instead: slower, the same answers.
    """

    PROBES = ("The weather was lovely, so we walked along the river.", "Le chat dort sur le canapé depuis ce matin.",
              "Der Zug nach Berlin hatte heute zwanzig Minuten Verspätung.", "私は昨日、友達と公園に行きました。")  # fmt: skip

    def __init__(self) -> None:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        self.model = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        self.labels = frozenset(self.model.nb_classes)
        self.batched = False
        try:  # py3langid 0.4's arrays; scipy multiplies float32 (the wheel's table is float16)
            import numpy as np
            from scipy import sparse

            m, self.np, self.sparse = self.model, np, sparse
            self.nextmove, self.output = np.asarray(m.tk_nextmove), np.asarray(m.tk_output, dtype=np.int64)
            self.rowbase = np.asarray(m.tk_row, dtype=np.int64) << 8
            self.ptc, self.pc = np.asarray(m.nb_ptc, np.float32), np.asarray(m.nb_pc, np.float32)
            self.classes, self.batched = np.asarray(m.nb_classes), True
            mine = [p for lang in ("en", "fr", "ja") for p in self.probability(list(self.PROBES), lang)]
            self.batched = False
            theirs = [p for lang in ("en", "fr", "ja") for p in self.probability(list(self.PROBES), lang)]
            self.batched = max(abs(a - b) for a, b in zip(mine, theirs, strict=True)) < 1e-3
        except (ImportError, AttributeError, TypeError, ValueError, IndexError):
            self.batched = False

    def probability(self, texts: list[str], lang: str) -> list[float]:
        """For each text, the probability that it is in ``lang`` (or a language too close to tell apart);
        1.0 where the model finds nothing to judge by."""
        group = close_languages(lang)
        if not self.batched or not texts:
            ranked = [self.model.rank(t) for t in texts]  # a flat distribution: no feature to judge by
            return [1.0 if r[0][1] <= 2.001 / len(r) else sum(p for lg, p in r if lg in group) for r in ranked]
        import unicodedata

        np = self.np
        # py3langid's own preparation of a line: all-capitals lowercased, NFC, UTF-8
        prepared = (t.lower() if t.isupper() else t for t in texts)
        data = [unicodedata.normalize("NFC", t).encode("utf-8", "surrogatepass") for t in prepared]
        lengths = np.fromiter(map(len, data), dtype=np.int64, count=len(data))
        order = np.argsort(-lengths, kind="stable")  # longest first: the lines still running are a prefix
        ends, state, rows, feats, active = lengths[order], np.zeros(len(data), np.int64), [], [], len(data)
        buf = np.zeros((len(data), int(lengths.max(initial=0))), dtype=np.uint8)
        buf[np.arange(buf.shape[1]) < ends[:, None]] = np.frombuffer(b"".join(data[i] for i in order), np.uint8)
        buf = buf.T.copy()  # byte t of every line: contiguous
        for t in range(buf.shape[0]):
            while active and ends[active - 1] <= t:
                active -= 1
            state[:active] = self.nextmove[self.rowbase[state[:active]] + buf[t, :active]]
            found = self.output[state[:active]]
            hit = np.flatnonzero(found >= 0)
            rows.append(hit)
            feats.append(found[hit])
        row_ids, feat_ids = (np.concatenate([np.zeros(0, np.int64), *parts]) for parts in (rows, feats))
        # (line, feature) counts: building a CSR matrix sums the repeated entries
        matrix = self.sparse.csr_matrix((np.ones(len(row_ids), np.float32), (row_ids, feat_ids)),
                                        shape=(len(data), self.ptc.shape[0]))  # fmt: skip
        matrix.sum_duplicates()
        np.log1p(matrix.data, out=matrix.data)
        scores = np.asarray(matrix @ self.ptc + self.pc) / np.sqrt(np.maximum(ends, 1))[:, None]  # as py3langid
        scores = np.exp(scores - scores.max(axis=1, keepdims=True))
        mine = (scores[:, np.isin(self.classes, list(group))].sum(axis=1) / scores.sum(axis=1)).tolist()
        judged = np.diff(matrix.indptr) > 0
        out = [1.0] * len(data)
        for row, i in enumerate(order.tolist()):
            if judged[row]:
                out[i] = mine[row]
        return out
