#!/usr/bin/env python3
"""Regenerate the GPT-2 tokenizer reference data that `GPT2TokenizerTests` checks against.

Developers run this by hand; CI never does (it needs `transformers`, `tokenizers` and `regex`, no
PyTorch). The real GPT-2 vocabulary cannot be downloaded here, so the script trains a small
byte-level BPE (the same model family: GPT-2's byte-to-unicode alphabet, its pre-tokenization regex,
ranked merges) and writes into `Tests/GuidedModelTests/Fixtures/gpt2-tokenizer/`:

* `vocab.json`, `merges.txt`: a `tokenizers.ByteLevelBPETokenizer` trained on the GPL-3 text in
  /usr/share/common-licenses plus a few multilingual lines below (`<|endoftext|>` is a special token
  of the training, so it has an id in vocab.json, as in GPT-2);
* `golden.json`: for every case, what the reference returns -- `tokens` and `input_ids` from the
  slow, pure-Python GPT-2 tokenizer (`SlowGPT2Tokenizer` below: transformers 4.x's
  `GPT2Tokenizer`, verbatim but for the class name; transformers 5 only ships the Rust-backed one),
  the `decoded` text, and, where the Rust-backed `transformers.GPT2Tokenizer` (5.x) answers
  otherwise, its answer under `fast`;
* `unicode_classes.json`: the code points that Python `regex` (the slow tokenizer's regex engine)
  puts in `\\s`, `\\p{L}` and `\\p{N}`, as inclusive ranges, so a test can sweep all of Unicode.

* `golden-real.json` (with `--real DIR`): ids for the same plain cases on GPT-2's own vocabulary,
  which `GPT2TokenizerTests` checks when the environment variable `GUIDED_GPT2_TOKENIZER` names
  that folder.

Usage (from the repository root):

    /root/tools-venv/bin/python tools/make_gpt2_tokenizer_fixture.py [--real DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path

import regex as re
import tokenizers
import transformers
from tokenizers import ByteLevelBPETokenizer
from transformers import GPT2Tokenizer as FastGPT2Tokenizer
from transformers.tokenization_python import AddedToken, PreTrainedTokenizer

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "Tests/GuidedModelTests/Fixtures/gpt2-tokenizer"
CORPUS = Path("/usr/share/common-licenses/GPL-3")
VOCAB_SIZE = 1000

MULTILINGUAL = [
    "Le café est très bon, n'est-ce pas ? Où êtes-vous allés l'été dernier ?",
    "Ich möchte ein Stück Kuchen und einen Kaffee, bitte. Größe, Straße, Übung.",
    "¿Dónde está la biblioteca? ¡Qué día tan bonito! Niño, año, señor.",
    "Привет, как дела? Я люблю читать книги и гулять в парке.",
    "Γειά σου κόσμε! Η γλώσσα είναι όμορφη.",
    "中文分词很有意思。我们今天去公园散步吧！日本語も少し話せます。",
    "한국어 문장도 있습니다. 감사합니다!",
    "Emoji: 😀 😂 👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️ — and math: ∑ ∞ ≠ ≤ ≥ ½ ² ³.",
    "It's, you're, we've, I'm, they'll, he'd; IT'S, YOU'RE, WE'LL. Numbers: 1234567890, 3.14159, 1,000,000.",
    "    indented code:\n\tdef f(x):\n\t\treturn x  # comment\n\n\nend\r\n",
]


# ---------------------------------------------------------------------------------------------
# transformers 4.x `GPT2Tokenizer` (the slow, Python one), unchanged but for the name.


@lru_cache
def bytes_to_unicode():
    bs = (
        list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    )
    cs = bs[:]
    n = 0
    for b in range(2**8):
        if b not in bs:
            bs.append(b)
            cs.append(2**8 + n)
            n += 1
    cs = [chr(n) for n in cs]
    return dict(zip(bs, cs))


def get_pairs(word):
    pairs = set()
    prev_char = word[0]
    for char in word[1:]:
        pairs.add((prev_char, char))
        prev_char = char
    return pairs


class SlowGPT2Tokenizer(PreTrainedTokenizer):
    vocab_files_names = {"vocab_file": "vocab.json", "merges_file": "merges.txt"}
    model_input_names = ["input_ids", "attention_mask"]

    def __init__(
        self,
        vocab_file,
        merges_file,
        errors="replace",
        unk_token="<|endoftext|>",
        bos_token="<|endoftext|>",
        eos_token="<|endoftext|>",
        pad_token=None,
        add_prefix_space=False,
        add_bos_token=False,
        **kwargs,
    ):
        bos_token = AddedToken(bos_token, special=True) if isinstance(bos_token, str) else bos_token
        eos_token = AddedToken(eos_token, special=True) if isinstance(eos_token, str) else eos_token
        unk_token = AddedToken(unk_token, special=True) if isinstance(unk_token, str) else unk_token
        pad_token = AddedToken(pad_token, special=True) if isinstance(pad_token, str) else pad_token
        self.add_bos_token = add_bos_token
        with open(vocab_file, encoding="utf-8") as vocab_handle:
            self.encoder = json.load(vocab_handle)
        self.decoder = {v: k for k, v in self.encoder.items()}
        self.errors = errors
        self.byte_encoder = bytes_to_unicode()
        self.byte_decoder = {v: k for k, v in self.byte_encoder.items()}
        with open(merges_file, encoding="utf-8") as merges_handle:
            bpe_merges = merges_handle.read().split("\n")[1:-1]
        bpe_merges = [tuple(merge.split()) for merge in bpe_merges]
        self.bpe_ranks = dict(zip(bpe_merges, range(len(bpe_merges))))
        self.cache = {}
        self.add_prefix_space = add_prefix_space
        self.pat = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
        super().__init__(
            errors=errors,
            unk_token=unk_token,
            bos_token=bos_token,
            eos_token=eos_token,
            pad_token=pad_token,
            add_prefix_space=add_prefix_space,
            special_tokens_pattern="none",
            **kwargs,
        )

    @property
    def vocab_size(self):
        return len(self.encoder)

    def get_vocab(self):
        return dict(self.encoder, **self.added_tokens_encoder)

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token)
        pairs = get_pairs(word)
        if not pairs:
            return token
        while True:
            bigram = min(pairs, key=lambda pair: self.bpe_ranks.get(pair, float("inf")))
            if bigram not in self.bpe_ranks:
                break
            first, second = bigram
            new_word = []
            i = 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                except ValueError:
                    new_word.extend(word[i:])
                    break
                else:
                    new_word.extend(word[i:j])
                    i = j
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new_word.append(first + second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            new_word = tuple(new_word)
            word = new_word
            if len(word) == 1:
                break
            else:
                pairs = get_pairs(word)
        word = " ".join(word)
        self.cache[token] = word
        return word

    def _tokenize(self, text):
        bpe_tokens = []
        for token in re.findall(self.pat, text):
            token = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            bpe_tokens.extend(bpe_token for bpe_token in self.bpe(token).split(" "))
        return bpe_tokens

    def _convert_token_to_id(self, token):
        return self.encoder.get(token, self.encoder.get(self.unk_token))

    def _convert_id_to_token(self, index):
        return self.decoder.get(index)

    def convert_tokens_to_string(self, tokens):
        text = "".join(tokens)
        text = bytearray([self.byte_decoder[c] for c in text]).decode("utf-8", errors=self.errors)
        return text

    def prepare_for_tokenization(self, text, is_split_into_words=False, **kwargs):
        add_prefix_space = kwargs.pop("add_prefix_space", self.add_prefix_space)
        if is_split_into_words or add_prefix_space:
            text = " " + text
        return (text, kwargs)


# ---------------------------------------------------------------------------------------------


def train(folder: Path):
    text = CORPUS.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.txt"
        corpus.write_text(text + "\n" + "\n".join(MULTILINGUAL) + "\n", encoding="utf-8")
        bpe = ByteLevelBPETokenizer()
        bpe.train([str(corpus)], vocab_size=VOCAB_SIZE, min_frequency=2, special_tokens=["<|endoftext|>"])
    folder.mkdir(parents=True, exist_ok=True)
    bpe.save_model(str(folder))


LONG_WORD = "Pneumonoultramicroscopicsilicovolcanoconiosis" * 4

CASES = [
    "",
    "Hello world",
    " Hello world",
    "Hello  world",
    "  leading and trailing  ",
    "trailing space ",
    " ",
    "   ",
    "a   b",
    "line one\nline two\n\nline four\n",
    "tab\tseparated\t\tvalues\t",
    "\r\nwindows\r\nnewlines\r\n",
    "mixed \t\n whitespace \n\t end",
    "\u00a0no-break\u00a0space and\u2009thin\u3000ideographic",
    "It's the user's choice; you're right, we've seen, I'm sure, they'll go, he'd say.",
    "IT'S YOU'RE WE'VE I'M THEY'LL HE'D DON'T",
    "It'S you'Re they'Ll 'LL 's 're",
    "can't won't isn't 'tis o'clock rock'n'roll",
    "''s '''re ' s 's's",
    "‘curly’ “quotes” it’s",
    "Numbers: 0 7 42 1234567890 3.14159 -17 1,000,000 1e-9 0x1F 2nd 3rd 4th",
    "٣٤٥ ६७८ ⅫⅣ ½ ² ³ ①②",
    "Punctuation!!! ??? ... --- *** (nested [brackets] {braces}) <tags/> @#$%^&*_+=~`|\\",
    "a.b,c;d:e!f?g",
    "e-mail: someone@example.com, URL: https://www.gnu.org/licenses/gpl-3.0.html",
    "Café naïve résumé façade coöperate Ångström",
    "Cafe\u0301 nai\u0308ve (combining marks)",
    "a\u0300\u0301\u0302\u0303 stacked marks",
    "中文分词很有意思。",
    "日本語のテキスト、カタカナとひらがな。",
    "한국어 문장입니다",
    "Привет, мир! Γειά σου κόσμε!",
    "עברית ועربية",
    "हिन्दी भाषा",
    "Emoji 😀😂 and 👍🏽",
    "Family: 👨\u200d👩\u200d👧\u200d👦 flag: 🇫🇷 heart: ❤️",
    "zero\u200bwidth\u200cnon\u200djoiner\ufeffbom",
    "control\x00\x01\x07\x1b\x7f\x85chars",
    "\x1c\x1d\x1e\x1f separators",
    "\u2028line\u2029paragraph",
    "soft\u00adhyphen",
    "private \ue000 and noncharacter \ufdd0 \U0010ffff",
    "math ∑∞≠≤≥ arrows →⇒ box ░▒▓",
    "Hello<|endoftext|>world",
    "<|endoftext|>",
    "text <|endoftext|> more text <|endoftext|><|endoftext|>",
    " <|endoftext|> ",
    "<|endoftext|>\n<|endoftext|>",
    "not special: <|endoftext| <endoftext|> <|ENDOFTEXT|>",
    LONG_WORD,
    "x" * 300,
    "the " * 50,
    "GNU GENERAL PUBLIC LICENSE Version 3, 29 June 2007",
    "This program is free software: you can redistribute it and/or modify it under the terms of the "
    "GNU General Public License as published by the Free Software Foundation.",
] + MULTILINGUAL

# (text, pair, max_length, add_prefix_space)
OPTION_CASES = [
    ("Hello world", None, None, True),
    (" Hello world", None, None, True),
    ("", None, None, True),
    ("Hello<|endoftext|>world", None, None, True),
    ("\nnewline first", None, None, True),
    ("The first text.", "And the second one.", None, False),
    ("first", " second", None, False),
    ("pair with", "<|endoftext|>", None, False),
    ("This program is free software, you can redistribute it.", None, 5, False),
    ("short", None, 10, False),
    ("exactly four tokens?", None, 1, False),
    ("A fairly long first text that goes on and on.", "Short second.", 8, False),
    ("Short first.", "A fairly long second text that goes on and on.", 8, False),
    ("one two three", "four five six", 5, False),
    ("one two three", "four five six", 4, False),
    ("one", "two", 1, False),
]


def ranges(cps):
    out = []
    for cp in cps:
        if out and out[-1][1] == cp - 1:
            out[-1][1] = cp
        else:
            out.append([cp, cp])
    return [value for pair in out for value in pair]


def unicode_classes():
    classes = {"whitespace": r"\s", "letter": r"\p{L}", "number": r"\p{N}"}
    found = {name: [] for name in classes}
    compiled = {name: re.compile(pattern) for name, pattern in classes.items()}
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        c = chr(cp)
        for name, pattern in compiled.items():
            if pattern.match(c):
                found[name].append(cp)
    document = {"regex": re.__version__, "note": "inclusive ranges: first, last, first, last, ..."}
    document.update({name: ranges(cps) for name, cps in found.items()})
    (FIXTURES / "unicode_classes.json").write_text(json.dumps(document) + "\n")


def real_golden(folder: Path):
    """golden-real.json: the same plain cases on the real GPT-2 vocabulary in `folder` (not committed
    to the repository: 1.25 MB; openai-whisper 20230124's sdist ships it as whisper/assets/gpt2/)."""
    slow = SlowGPT2Tokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    fast = FastGPT2Tokenizer.from_pretrained(str(folder))
    out = []
    for text in CASES + ["Hello world", " Hello world"]:
        ids = slow(text)["input_ids"]
        case = {"text": text, "input_ids": ids}
        fast_ids = fast(text)["input_ids"]
        if fast_ids != ids:
            case["fast"] = fast_ids
        out.append(case)
    lines = ['{"vocab_size": %d, "cases": [' % len(slow.encoder)]
    lines.append(",\n".join(json.dumps(c, ensure_ascii=False, separators=(",", ":")) for c in out))
    lines.append("]}")
    (FIXTURES / "golden-real.json").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"golden-real.json: {len(out)} cases, {sum('fast' in c for c in out)} where fast differs")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--real", type=Path, help="a folder with GPT-2's own vocab.json and merges.txt")
    arguments = parser.parse_args()
    if arguments.real:
        real_golden(arguments.real)
    train(FIXTURES)
    slow = SlowGPT2Tokenizer(str(FIXTURES / "vocab.json"), str(FIXTURES / "merges.txt"))
    fast = FastGPT2Tokenizer.from_pretrained(str(FIXTURES))
    out = []
    differences = 0
    for text in CASES:
        ids = slow(text)["input_ids"]
        case = {
            "text": text,
            "tokens": slow.convert_ids_to_tokens(ids),
            "input_ids": ids,
            "decoded": slow.decode(ids),
        }
        fast_ids = fast(text)["input_ids"]
        if fast_ids != ids:
            differences += 1
            case["fast"] = {"tokens": fast.convert_ids_to_tokens(fast_ids), "input_ids": fast_ids}
        out.append(case)
    document = {
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "regex": re.__version__,
        "vocab_size": len(slow.encoder),
        "cases": out,
    }
    lines = [json.dumps({k: v for k, v in document.items() if k != "cases"}, ensure_ascii=False)[:-1] + ', "cases": [']
    lines.append(",\n".join(json.dumps(c, ensure_ascii=False, separators=(",", ":")) for c in out))
    lines.append("]}")
    (FIXTURES / "golden.json").write_text("\n".join(lines) + "\n", encoding="utf-8")
    unicode_classes()
    prefixed = {
        False: (slow, fast),
        True: (
            SlowGPT2Tokenizer(str(FIXTURES / "vocab.json"), str(FIXTURES / "merges.txt"), add_prefix_space=True),
            FastGPT2Tokenizer.from_pretrained(str(FIXTURES), add_prefix_space=True),
        ),
    }
    for text, pair, max_length, add_prefix_space in OPTION_CASES:
        s_tok, f_tok = prefixed[add_prefix_space]
        options = {"truncation": True, "max_length": max_length} if max_length else {}
        ids = s_tok(text, pair, **options)["input_ids"]
        case = {"text": text, "pair": pair, "max_length": max_length, "add_prefix_space": add_prefix_space,
                "tokens": s_tok.convert_ids_to_tokens(ids), "input_ids": ids, "decoded": s_tok.decode(ids)}
        fast_ids = f_tok(text, pair, **options)["input_ids"]
        if fast_ids != ids:
            differences += 1
            case["fast"] = {"tokens": f_tok.convert_ids_to_tokens(fast_ids), "input_ids": fast_ids}
        out.append(case)
    document["cases"] = out
    lines = [json.dumps({k: v for k, v in document.items() if k != "cases"}, ensure_ascii=False)[:-1] + ', "cases": [']
    lines.append(",\n".join(json.dumps(c, ensure_ascii=False, separators=(",", ":")) for c in out))
    lines.append("]}")
    (FIXTURES / "golden.json").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{len(out)} cases, {differences} where the fast tokenizer differs")
    for name in sorted(os.listdir(FIXTURES)):
        print(f"  {name}: {(FIXTURES / name).stat().st_size} bytes")


if __name__ == "__main__":
    main()
