"""The two READMEs, English and Chinese, say the same commands and point at each other."""

from __future__ import annotations

import re

from tests.helpers import REPO

READMES = (REPO / "README.md", REPO / "README.zh-CN.md")


def code_blocks(text: str) -> list[str]:
    return re.findall(r"^```[a-z]*\n(.*?)^```", text, re.S | re.M)


def test_both_readmes_hold_the_same_code_blocks_in_the_same_order() -> None:
    english, chinese = (code_blocks(path.read_text(encoding="utf-8")) for path in READMES)
    assert len(english) >= 6 and english == chinese


def test_each_readme_links_to_the_other_in_its_first_lines() -> None:
    english, chinese = (path.read_text(encoding="utf-8").splitlines()[:5] for path in READMES)
    assert any("(README.zh-CN.md)" in line for line in english)
    assert any("(README.md)" in line for line in chinese)


def test_the_chinese_readme_is_in_chinese_and_says_what_exists_in_chinese() -> None:
    text = READMES[1].read_text(encoding="utf-8")
    prose = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    assert len(re.findall(r"[\u4e00-\u9fff]", prose)) > 1500  # the prose is translated, not only the title
    assert "哪些部分有中文" in text and "notebooks/chapter.ipynb" in text
