#!/usr/bin/env python3
"""Writes tests/fixtures/tokenizer/: what transformers' T5TokenizerFast (the tokenizer AutoTokenizer
returns for FLAN-T5; transformers 4.26.0, tokenizers 0.13.3, see requirements.txt) gives for the
CNN/DailyMail sample and for hand-picked edge cases.

cnn_dm_ids.bin — every article and every highlights text of cnn_dm_sample.jsonl (1,400 rows), in
row order, article first. Little-endian:
    magic "T5TOKFX1", u32 count, then per sequence:
    u32 row (0-based line), u8 field (0 article, 1 highlights),
    u32 length, u64 hash   of tokenizer(text).input_ids,
    u32 length, u64 hash   of tokenizer(text, max_length=512, truncation=True).input_ids,
    u64 hash of tokenizer.decode(ids, skip_special_tokens=True) (UTF-8 bytes),
    u8 full: 1 when the ids follow, as `length` u16 values (all highlights, every 10th article).
Hashes are FNV-1a-64, of ids as little-endian int32 (as tests/fixtures/prepare) or of text bytes.

edge_cases.json — {"encode": [{text, normalized, ids, decoded, decoded_keep_special, decoded_raw,
truncated: [{max_length, ids}]}], "decode": [{ids, skip_special_tokens, decoded, decoded_raw}],
"normalizer_blocks": [{first, hash}]}:
whitespace runs, newlines, tabs, leading/trailing spaces, unicode (accents composed and not,
full-width, emoji, CJK, grapheme clusters), added tokens inside text, literal "</s>", empty text,
the summarization prompt with an empty input (12 ids), 300 seeded random mixtures of such
characters, and decodes of hand-made id lists.
`decoded` is decode(ids, skip_special_tokens=True); `decoded_keep_special` keeps them;
`decoded_raw` is skip_special_tokens=True with clean_up_tokenization_spaces=False.
`normalized` is the normalizer alone (backend_tokenizer.normalizer.normalize_str); each of
`normalizer_blocks` hashes (FNV-1a-64, hex) the normalizer's output for the 256 code points from
`first` on, each followed by "|" (the BMP without surrogates, and U+1F000-U+1FAFF).

Usage: python tools/reference/make_tokenizer_fixture.py [--shared ../shared]
           [--out tests/fixtures/tokenizer] [--show ROW FIELD]
--show prints one sequence's ids and text instead (to read a mismatch that only a hash caught).
"""

import argparse
import json
import os
import random
import struct

from transformers import AutoTokenizer

PROMPT = "Summarize the following news article:\n{input}\nSummary:\n"
MAX_LENGTH = 512
FULL_ARTICLE_EVERY = 10

EDGE_TEXTS = [
    # empty and whitespace
    "", " ", "   ", "\n", "\t", "\r\n", "a", "hello world", "hello  world", "hello   world",
    "  leading", "trailing  ", " both ", "a\tb", "a\n\nb", "line1\nline2\n", "a \t\n b", "a\r\nb",
    "a\rb", "a\u000bb\u000cc",
    # the prompt template
    PROMPT.format(input=""), PROMPT.format(input="The cat sat on the mat."),
    # unicode normalization
    "café", "cafe\u0301", "naïve résumé", "Ａ\u0301", "ＡＢＣ　ｘ", "ｶﾞｷﾞ", "ﬁne ﬂow", "½", "1/2 ½",
    "x² + y³", "Ⅻ", "ℌello", "wait…", "a—b – c", "£20 €5 ¥3", "© ® ™", "\u00a0", "a\u00a0b",
    "\u200b", "x\u200by", "\u200e", "a\u200eb", "a\u00adb", "a\u2009b", "a\u202fb", "a\u3000b",
    "a\u0301\u0302\u0303", "\u0301", " \u0301", "Å Å", "ǅ", "ﷺ", "㍿", "①②", "ｈｔｔｐ：／／",
    "ｶﾞ", "ﾊﾟ", "Ｅ\u0301x", "ａ\u0308", "①\u0301", "ﬁ\u0301", "\u00a0\u0301", "\u3000\u0301",
    "x\u00a0\u0301y", "A\u030a\u0301\u0300",
    # emoji and grapheme clusters
    "😀", "👍🏽", "👨\u200d👩\u200d👧", "🇺🇸🇬🇧", "🇺🇸🇬", "❤️", "#️⃣", "a😀b", "☕ coffee",
    # scripts
    "中文字符", "日本語のテキスト", "한국어", "\u1100\u1161\u11a8", "\u1100\u1161", "नमस्ते",
    "हिन्दी", "ภาษาไทย", "ำ", "مرحبا بالعالم", "\u0600\u0661", "שָׁלוֹם", "Привет мир",
    "Ελληνικά", "Türkçe İ ı", "straße", "Ǆ", "ﬀ",
    # added tokens and their look-alikes
    "<extra_id_5>", "text <extra_id_5> inside", "a<extra_id_0>b", "<extra_id_99>",
    "<extra_id_100>", "<extra_id_0", "</s>", "x</s>y", "x </s> y", "<pad>", "<unk>", "<s>",
    "＜extra_id_0＞", "＜pad＞", "＜/s＞", "<extra_id_1><extra_id_2>", "<extra_id_1> <extra_id_2>",
    "<extra_id_1>\u200e<extra_id_2>", "<<extra_id_3>>", "<extra_id_1>  two spaces",
    "Today is a fine <extra_id_0> on which to walk my <extra_id_1> in the park.",
    # the metaspace character itself
    "▁", "a▁b", "a▁▁b", "▁hello", "hello▁",
    # unknown and control characters
    "~", "{}", "<", "\\", "`", "^", "@#$%", "a\x00b", "\x01\x02", "\x7f", "a\U0010fffdb",
    # words, ties, punctuation
    "zzz", "aaaaaaaaaa", "1234567890123", "https://www.example.com/path?q=1&x=2",
    "someone@example.org", "don't won't I'm you're they've it's", "Hello , world ! What ?",
    "a . b", "' quoted '", "U.S. 3.14 $41.1 million e-mail A--B", "HELLO World",
    "Supercalifragilisticexpialidocious", "I do n't know , he said .",
    "He said: \"it 's fine\" ( really ) [ok] {x}",
]

# Random mixtures of the pieces that edge cases are made of (whitespace, added tokens, combining
# marks, emoji parts, jamo, full-width forms, ...) and of random code points: seeded, so the
# fixture is reproducible.
RANDOM_PARTS = list(" \n\t\r  ") + list("abcxyzABC0123.,'!?-") + [
    "<extra_id_0>", "</s>", "<pad>", "<unk>", "<extra_id_", "▁", "\u3000", "\xa0", "\u200b",
    "\u200d", "\u0301", "\u0308", "\ufe0f", "😀", "👍", "🏽", "🇺", "🇸", "ｶ", "ﾞ", "Ａ", "①",
    "ﬁ", "é", "ß", "中", "한", "\u1100", "\u1161", "\u11a8", "ก", "\u0e33", "\u0600", "ह",
    "\u094d", "ि", "\x00", "\x7f", "\u00ad", "\u2028", "＜", "＞", "…", "™", "½",
]
RANDOM_RANGES = [(0x80, 0x2FFFF), (0x300, 0x36F), (0x1F300, 0x1FAFF), (0xFF00, 0xFFEF),
                 (0x3000, 0x33FF), (0xE0000, 0xE007F)]
RANDOM_TEXTS = 300


def random_texts(count, seed=20240601):
    rng = random.Random(seed)
    texts = []
    while len(texts) < count:
        text = "".join(rng.choice(RANDOM_PARTS) for _ in range(rng.randint(1, 24)))
        if rng.random() < 0.5:
            text = "".join(chr(rng.randint(*rng.choice(RANDOM_RANGES))) if rng.random() < 0.3
                           else c for c in text)
        if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
            continue  # surrogates are not UTF-8
        texts.append(text)
    return texts


# Hand-made id lists for the decoder alone.
DECODE_IDS = [
    [], [1], [0, 1], [3], [3, 3, 9], [0, 8, 1], [8, 0, 8], [32099, 3, 5, 1], [32100, 8, 40000],
    [2, 8, 2], [8, 3, 5], [3, 6, 3, 31, 7], [1150, 31, 17], [27, 103, 29, 31, 17, 214],
    [32099, 32098, 8], [12198, 1635, 1737, 8, 826, 1506, 1108, 10, 20698, 10, 3, 1],
]

TRUNCATE_TEXTS = {
    PROMPT.format(input="The cat sat on the mat."): [1, 2, 5, 12],
    "Today is a fine <extra_id_0> on which to walk my <extra_id_1> in the park.": [1, 6, 7, 40],
    "   ": [1, 2],
    "": [1],
}


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def ids_hash(ids):
    return fnv1a64(struct.pack(f"<{len(ids)}i", *ids))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.normpath(os.path.join(here, "..", ".."))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", default=os.path.join(repo, "..", "shared"))
    parser.add_argument("--out", default=os.path.join(repo, "tests", "fixtures", "tokenizer"))
    parser.add_argument("--show", nargs=2, metavar=("ROW", "FIELD"))
    args = parser.parse_args()

    tok = AutoTokenizer.from_pretrained(os.path.join(args.shared, "data", "t5-tokenizer"))
    if type(tok).__name__ != "T5TokenizerFast":
        raise SystemExit(f"expected T5TokenizerFast, got {type(tok).__name__}")
    with open(os.path.join(args.shared, "data", "cnn_dm_sample", "cnn_dm_sample.jsonl"),
              encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]

    if args.show:
        text = rows[int(args.show[0])][args.show[1]]
        print(json.dumps(text, ensure_ascii=False))
        print(tok(text).input_ids)
        return

    os.makedirs(args.out, exist_ok=True)
    fields = ["article", "highlights"]
    texts = [(row, field, rows[row][field]) for row in range(len(rows)) for field in fields]
    ids_all = tok([t for _, _, t in texts]).input_ids
    ids_cut = tok([t for _, _, t in texts], max_length=MAX_LENGTH, truncation=True).input_ids
    out = bytearray(b"T5TOKFX1")
    out += struct.pack("<I", len(texts))
    full_count = 0
    for (row, field, _), ids, cut in zip(texts, ids_all, ids_cut):
        decoded = tok.decode(ids, skip_special_tokens=True)
        full = field == "highlights" or row % FULL_ARTICLE_EVERY == 0
        out += struct.pack("<IB", row, fields.index(field))
        out += struct.pack("<IQ", len(ids), ids_hash(ids))
        out += struct.pack("<IQ", len(cut), ids_hash(cut))
        out += struct.pack("<QB", fnv1a64(decoded.encode("utf-8")), int(full))
        if full:
            out += struct.pack(f"<{len(ids)}H", *ids)
            full_count += 1
    with open(os.path.join(args.out, "cnn_dm_ids.bin"), "wb") as f:
        f.write(out)

    normalizer = tok.backend_tokenizer.normalizer
    # The normalizer alone on every code point of the BMP and of the emoji planes, one 256-code-
    # point block per text, each character followed by "|" (surrogates cannot be encoded).
    normalizer_blocks = []
    for first in list(range(0, 0x10000, 256)) + list(range(0x1F000, 0x1FB00, 256)):
        if 0xD800 <= first < 0xE000:
            continue
        text = "".join(chr(c) + "|" for c in range(first, first + 256))
        digest = fnv1a64(normalizer.normalize_str(text).encode("utf-8"))
        normalizer_blocks.append({"first": first, "hash": f"{digest:016x}"})

    encode_cases = []
    for text in EDGE_TEXTS + random_texts(RANDOM_TEXTS):
        ids = tok(text).input_ids
        case = {
            "text": text,
            "normalized": normalizer.normalize_str(text),
            "ids": ids,
            "decoded": tok.decode(ids, skip_special_tokens=True),
            "decoded_keep_special": tok.decode(ids, skip_special_tokens=False),
            "decoded_raw": tok.decode(ids, skip_special_tokens=True,
                                      clean_up_tokenization_spaces=False),
        }
        if text in TRUNCATE_TEXTS:
            case["truncated"] = [
                {"max_length": m, "ids": tok(text, max_length=m, truncation=True).input_ids}
                for m in TRUNCATE_TEXTS[text]
            ]
        encode_cases.append(case)
    decode_cases = []
    for ids in DECODE_IDS:
        for skip in (True, False):
            decode_cases.append({
                "ids": ids,
                "skip_special_tokens": skip,
                "decoded": tok.decode(ids, skip_special_tokens=skip),
                "decoded_raw": tok.decode(ids, skip_special_tokens=skip,
                                          clean_up_tokenization_spaces=False),
            })
    with open(os.path.join(args.out, "edge_cases.json"), "w", encoding="utf-8") as f:
        json.dump({"encode": encode_cases, "decode": decode_cases,
                   "normalizer_blocks": normalizer_blocks}, f, ensure_ascii=True, indent=1)
        f.write("\n")
    prompt_ids = tok(PROMPT.format(input="")).input_ids
    print(f"wrote {args.out}: {len(texts)} sequences ({full_count} with full ids), "
          f"{len(encode_cases)} encode and {len(decode_cases)} decode edge cases; "
          f"empty prompt = {len(prompt_ids)} ids")


if __name__ == "__main__":
    main()
