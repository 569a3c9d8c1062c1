"""Write the sample English-Japanese pairs (sample_data/enja/) from a small hand-written grammar.

Nothing is copied from any corpus: every sentence comes from the templates and word lists
below, written for this project. The output follows the conventions of small_parallel_enja
(English lowercased and tokenized Stanford-style, `can 't`; Japanese words separated by
spaces) so that models trained on it accept the same input as models trained on real data.

    python sample_data/make_parallel.py      # deterministic: same files every run
"""

from __future__ import annotations

import random
from pathlib import Path

OUT = Path(__file__).resolve().parent / "enja"

# (english, japanese, third-person-singular?)
SUBJECTS = [
    ("i", "私", False),
    ("you", "あなた", False),
    ("he", "彼", True),
    ("she", "彼女", True),
    ("we", "私 たち", False),
    ("they", "彼 ら", False),
    ("my father", "私 の 父", True),
    ("my mother", "私 の 母", True),
    ("my brother", "私 の 兄", True),
    ("my sister", "私 の 姉", True),
    ("tom", "トム", True),
    ("mary", "メアリー", True),
    ("the teacher", "先生", True),
    ("the boy", "その 少年", True),
]
# can / can 't: (english verb phrase, japanese potential stem)
ABILITIES = [
    ("swim", "泳げ"),
    ("run fast", "速 く 走れ"),
    ("drive a car", "車 を 運転 でき"),
    ("speak english", "英語 を 話せ"),
    ("read this book", "この 本 を 読め"),
    ("cook", "料理 でき"),
    ("ride a bike", "自転車 に 乗れ"),
    ("play the piano", "ピアノ を 弾け"),
    ("sing well", "上手 に 歌え"),
    ("write a letter", "手紙 を 書け"),
    ("sleep", "眠れ"),
    ("ski", "スキー が でき"),
]
THINGS = [
    ("cats", "猫"),
    ("dogs", "犬"),
    ("music", "音楽"),
    ("tea", "お茶"),
    ("coffee", "コーヒー"),
    ("apples", "りんご"),
    ("soccer", "サッカー"),
    ("tennis", "テニス"),
    ("books", "本"),
    ("movies", "映画"),
    ("fish", "魚"),
    ("rice", "ご飯"),
]
PLACES = [
    ("the park", "公園"),
    ("school", "学校"),
    ("the station", "駅"),
    ("the library", "図書館"),
    ("tokyo", "東京"),
    ("the hospital", "病院"),
    ("the store", "店"),
    ("the beach", "海岸"),
    ("kyoto", "京都"),
    ("the bank", "銀行"),
]
NOUNS = [
    ("student", "学生"),
    ("doctor", "医者"),
    ("teacher", "先生"),
    ("nurse", "看護 師"),
    ("singer", "歌手"),
    ("cook", "料理 人"),
    ("pilot", "パイロット"),
    ("farmer", "農家"),
]
ADJECTIVES = [
    ("happy", "幸せ で す"),
    ("busy", "忙し い で す"),
    ("tired", "疲れ て い ま す"),
    ("hungry", "空腹 で す"),
    ("kind", "親切 で す"),
    ("tall", "背 が 高 い で す"),
    ("sick", "病気 で す"),
    ("late", "遅れ て い ま す"),
]
OBJECTS = [
    ("a car", "車"),
    ("a dog", "犬"),
    ("a camera", "カメラ"),
    ("a bike", "自転車"),
    ("a cat", "猫"),
    ("a big house", "大き な 家"),
    ("a new watch", "新し い 時計"),
    ("a red pen", "赤 い ペン"),
]
FOODS = [("bread", "パン"), ("rice", "ご飯"), ("eggs", "卵"), ("fish", "魚"), ("apples", "りんご"), ("noodles", "麺")]


def be(subject: str, third: bool) -> str:
    return "am" if subject == "i" else ("is" if third else "are")


def pairs() -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for s_en, s_ja, third in SUBJECTS:
        for v_en, v_ja in ABILITIES:
            out.append((f"{s_en} can 't {v_en} .", f"{s_ja} は {v_ja} な い 。"))
            out.append((f"{s_en} can {v_en} .", f"{s_ja} は {v_ja} る 。"))
        for o_en, o_ja in THINGS:
            likes = "likes" if third else "like"
            dont = "doesn 't" if third else "don 't"
            out.append((f"{s_en} {likes} {o_en} .", f"{s_ja} は {o_ja} が 好き で す 。"))
            out.append((f"{s_en} {dont} like {o_en} .", f"{s_ja} は {o_ja} が 好き で は あ り ま せ ん 。"))
        for p_en, p_ja in PLACES:
            out.append((f"{s_en} went to {p_en} yesterday .", f"{s_ja} は 昨日 {p_ja} に 行 き ま し た 。"))
            out.append((f"{s_en} will go to {p_en} tomorrow .", f"{s_ja} は 明日 {p_ja} に 行 き ま す 。"))
        for a_en, a_ja in ADJECTIVES:
            out.append((f"{s_en} {be(s_en, third)} {a_en} .", f"{s_ja} は {a_ja} 。"))
        for o_en, o_ja in OBJECTS:
            has = "has" if third else "have"
            out.append((f"{s_en} {has} {o_en} .", f"{s_ja} は {o_ja} を 持 っ て い ま す 。"))
        for f_en, f_ja in FOODS:
            eats = "eats" if third else "eat"
            out.append((f"{s_en} {eats} {f_en} every day .", f"{s_ja} は 毎日 {f_ja} を 食べ ま す 。"))
        if s_en not in ("i", "you", "we", "they"):
            for n_en, n_ja in NOUNS:
                article = "an" if n_en[0] in "aeiou" else "a"
                out.append((f"{s_en} is {article} {n_en} .", f"{s_ja} は {n_ja} で す 。"))
    for o_en, o_ja in THINGS:
        out.append((f"do you like {o_en} ?", f"あなた は {o_ja} が 好き で す か 。"))
    for p_en, p_ja in PLACES:
        out.append((f"where is {p_en} ?", f"{p_ja} は どこ で す か 。"))
    for v_en, v_ja in ABILITIES:
        out.append((f"can you {v_en} ?", f"あなた は {v_ja} ま す か 。"))
    return out


def main() -> None:
    rng = random.Random(1234)
    all_pairs = sorted(set(pairs()))
    rng.shuffle(all_pairs)
    must_train = {("i can 't swim .", "私 は 泳げ な い 。")}
    dev = [p for p in all_pairs if p not in must_train][:100]
    train = [p for p in all_pairs if p not in dev][:1900]
    OUT.mkdir(exist_ok=True)
    for split, rows in (("train", train), ("dev", dev)):
        for side, lang in ((0, "en"), (1, "ja")):
            text = "".join(r[side] + "\n" for r in rows)
            (OUT / f"{split}.{lang}").write_text(text, encoding="utf-8")
    print(f"{len(all_pairs)} distinct pairs; wrote {len(train)} train and {len(dev)} dev pairs to {OUT}")


if __name__ == "__main__":
    main()
