"""Write the sample Japanese text for word embeddings (sample_data/ja/text.txt) from a small grammar.

Nothing is copied from any corpus: every sentence comes from the templates and word lists below,
written for this project, in the segmentation convention of small_parallel_enja (words separated
by single spaces, verb endings split off: ``行 き ま し た``).

The grammar is built so that word2vec can learn two independent directions in the family words:
*gender* (a male person is followed by 彼, a female one by 彼女; each has its own activities) and
*role* (parents raise children, children go to school, siblings are older or younger, 男/女 are
just people). A person word's contexts mix its gender and its role, so 父 - 男 + 女 lands on 母.
家族 shares its contexts with the other group nouns (両親, 親戚, 兄弟, 友達, 仲間), and countries
and their capitals appear in parallel sentences (日本 : 東京 = フランス : パリ).

    python sample_data/make_ja_text.py      # deterministic: same file every run
"""

from __future__ import annotations

import random
from pathlib import Path

OUT = Path(__file__).resolve().parent / "ja" / "text.txt"
SENTENCES = 8_000

# role -> (male word, female word); the generic person role holds 男 / 女.
PEOPLE = {
    "parent": ("父", "母"),
    "older": ("兄", "姉"),
    "younger": ("弟", "妹"),
    "child": ("息子", "娘"),
    "grandparent": ("祖父", "祖母"),
    "uncle": ("叔父", "叔母"),
    "spouse": ("夫", "妻"),
    "young": ("少年", "少女"),
    "person": ("男", "女"),
}
PRONOUN = {"m": "彼", "f": "彼女"}
# What each role does or is: these contexts are shared by the male and the female word of the role.
ROLE_CONTEXTS = {
    "parent": ["子供 たち を 育て ま し た", "子供 の 学校 に 行 き ま し た", "親 と し て 心配 し て い ま す"],
    "older": ["年上 の 兄弟 で す", "弟 たち の 面倒 を 見 ま す", "先 に 大学 に 入 り ま し た"],
    "younger": ["年下 の 兄弟 で す", "いつも 兄弟 の 後 を つい て 行 き ま す", "まだ 小学生 で す"],
    "child": ["両親 と 暮ら し て い ま す", "親 の 言 う こと を 聞 き ま す", "親 に 手紙 を 書 き ま し た"],
    "grandparent": [
        "孫 に 会 い に 来 ま し た",
        "昔 の 話 を し て くれ ま す",
        "田舎 で 年金 生活 を し て い ま す",
    ],
    "uncle": ["親戚 の 集まり に 来 ま し た", "甥 と 姪 に お 土産 を くれ ま し た", "親 の 兄弟 で す"],
    "spouse": ["結婚 し て 十 年 に な り ま す", "結婚 式 の 写真 を 見 ま し た", "夫婦 で 旅行 に 行 き ま し た"],
    "young": ["公園 で 遊 ん で い ま す", "中学校 に 通 っ て い ま す", "まだ 子供 で す"],
    "person": ["駅 の 前 に 立 っ て い ま し た", "道 を 尋ね ま し た", "知らな い 人 で す"],
}
# Gendered contexts (in addition to the pronoun): the same for every role of that gender.
GENDER_CONTEXTS = {
    "m": ["ひげ を そ り ま し た", "男性 用 の 服 を 買 い ま し た", "男 ら し い 声 で 話 し ま し た"],
    "f": ["化粧 を し ま し た", "女性 用 の 服 を 買 い ま し た", "女 ら し い 声 で 話 し ま し た"],
}
ACTIVITIES = [
    "本 を 読 ん で い ま す",
    "テレビ を 見 て い ま す",
    "料理 を 作 り ま し た",
    "手紙 を 書 き ま し た",
    "駅 まで 歩 き ま し た",
    "音楽 を 聞 き ま し た",
    "新聞 を 読 み ま し た",
    "買い物 に 行 き ま し た",
    "庭 で 花 を 育て て い ま す",
    "朝 早 く 起き ま し た",
]
ADJECTIVES = ["元気 で す", "忙し い で す", "優し い で す", "疲れ て い ま す", "幸せ で す", "背 が 高 い で す"]
GROUPS = ["家族", "両親", "親戚", "兄弟", "友達", "仲間"]
GROUP_CONTEXTS = [
    "私 は {g} と 一緒 に 旅行 に 行 き ま し た 。",
    "{g} で 夕食 を 食べ ま し た 。",
    "私 の {g} は みんな 元気 で す 。",
    "{g} に 会 い た い で す 。",
    "週末 は {g} と 過ご し ま す 。",
    "{g} の 写真 を 見せ て くださ い 。",
    "{g} から 手紙 が 届 き ま し た 。",
    "{g} を 大切 に し て い ま す 。",
]
# (country, capital, language): the language is what a country shares with its own capital only.
CAPITALS = [
    ("日本", "東京", "日本語"),
    ("フランス", "パリ", "フランス語"),
    ("イギリス", "ロンドン", "英語"),
    ("イタリア", "ローマ", "イタリア語"),
    ("ドイツ", "ベルリン", "ドイツ語"),
    ("スペイン", "マドリード", "スペイン語"),
    ("中国", "北京", "中国語"),
    ("韓国", "ソウル", "韓国語"),
]
COUNTRY_CONTEXTS = [
    "{c} は 大き な 国 で す 。",
    "{c} の 首都 は {k} で す 。",
    "{k} は {c} の 首都 で す 。",
    "私 は {c} に 住 ん で い ま し た 。",
    "{k} は 美し い 都市 で す 。",
    "{k} に は 有名 な 美術 館 が あ り ま す 。",
    "{c} の 料理 が 好き で す 。",
    "来年 {k} を 訪れ る つもり で す 。",
    "{c} で は {l} が 話 さ れ て い ま す 。",
    "{k} の 人 は {l} を 話 し ま す 。",
    "{k} で {l} を 勉強 し ま し た 。",
    "{c} の 人 は {l} を 話 し ま す 。",
]


def person_sentence(rng: random.Random) -> str:
    role = rng.choice(list(PEOPLE))
    gender = rng.choice("mf")
    word = PEOPLE[role][0 if gender == "m" else 1]
    subject = word if role == "person" or rng.random() < 0.5 else f"私 の {word}"
    if role == "person":
        subject = f"その {word}" if rng.random() < 0.5 else f"{word} の 人"
    kind = rng.random()
    if kind < 0.4:
        first = rng.choice(ROLE_CONTEXTS[role])
    elif kind < 0.7:
        first = rng.choice(GENDER_CONTEXTS[gender])
    else:
        first = rng.choice(ACTIVITIES)
    second = rng.choice(ROLE_CONTEXTS[role] + GENDER_CONTEXTS[gender] + ADJECTIVES)
    return f"{subject} は {first} 。 {PRONOUN[gender]} は {second} 。"


def group_sentence(rng: random.Random) -> str:
    return rng.choice(GROUP_CONTEXTS).format(g=rng.choice(GROUPS))


def country_sentence(rng: random.Random) -> str:
    country, capital, language = rng.choice(CAPITALS)
    return rng.choice(COUNTRY_CONTEXTS).format(c=country, k=capital, l=language)


def sentences(n: int = SENTENCES, seed: int = 2024) -> list[str]:
    rng = random.Random(seed)
    makers = [person_sentence] * 7 + [group_sentence] * 2 + [country_sentence]
    return [rng.choice(makers)(rng) for _ in range(n)]


def main() -> None:
    lines = sentences()
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    size = OUT.stat().st_size
    print(f"wrote {len(lines):,} sentences ({len(set(lines)):,} distinct, {size:,} bytes) to {OUT}")


if __name__ == "__main__":
    main()
