"""The files of ours that the built image contains, computed without a Docker engine.

The build context is the repository less what `.dockerignore` excludes (Docker's rules: patterns
in order, the last match wins, a pattern that matches a parent folder matches what is inside,
`!` re-includes). Then each stage's COPY/ADD lines are followed (`--from=<stage>` copies what
that stage holds), and the final stage's files are the answer: image path -> context path.
Files that a RUN makes (the locked venv, bytecode) are not ours and are not listed.
"""

from __future__ import annotations

import fnmatch
import json
import os
import posixpath
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from dockerfile_parse import DockerfileParser


@dataclass(frozen=True)
class Pattern:
    text: str
    exclusion: bool  # a `!` line: re-include what matches
    regex: re.Pattern[str]


def _compile(pattern: str) -> re.Pattern[str]:
    """Docker's pattern syntax: `*` and `?` within one path element, `[...]`, `**` for any
    number of elements (moby/patternmatcher)."""
    out = ""
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                i += 1
                out += "(?:.*/)?"
            else:
                out += ".*"
            continue
        if char == "*":
            out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end < 0:
                raise ValueError(f".dockerignore: unclosed [ in {pattern!r}")
            body = pattern[i + 1 : end]
            out += "[" + ("^" + body[1:] if body.startswith("!") else body) + "]"
            i = end
        elif char == "\\" and i + 1 < len(pattern):
            i += 1
            out += re.escape(pattern[i])
        else:
            out += re.escape(char)
        i += 1
    return re.compile(f"^{out}$")


def read_dockerignore(path: Path) -> list[Pattern]:
    patterns: list[Pattern] = []
    if not path.exists():
        return patterns
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclusion = line.startswith("!")
        text = posixpath.normpath(line[1:].strip() if exclusion else line).lstrip("/")
        patterns.append(Pattern(text, exclusion, _compile(text)))
    return patterns


def ignored(path: str, patterns: list[Pattern]) -> bool:
    """Whether Docker leaves `path` (relative, with /) out of the context
    (patternmatcher.MatchesOrParentMatches)."""
    parts = path.split("/")
    parents = ["/".join(parts[: i + 1]) for i in range(len(parts) - 1)]
    matched = False
    for pattern in patterns:
        if pattern.exclusion != matched:
            continue
        if pattern.regex.match(path) or any(pattern.regex.match(p) for p in parents):
            matched = not pattern.exclusion
    return matched


def context_files(root: Path) -> set[str]:
    """Every file Docker would send as the build context of `root`."""
    patterns = read_dockerignore(root / ".dockerignore")
    reincluded = [p.text for p in patterns if p.exclusion]
    files: set[str] = set()
    for folder, dirs, names in os.walk(root):
        rel_folder = Path(folder).relative_to(root).as_posix()
        prefix = "" if rel_folder == "." else rel_folder + "/"
        kept = []
        for name in dirs:
            rel = prefix + name
            # A folder left out with nothing re-included below it is not walked (as Docker does).
            if ignored(rel, patterns) and not any(
                text.startswith(rel + "/") or re.search(r"[*?\[]", text) for text in reincluded
            ):
                continue
            kept.append(name)
        dirs[:] = kept
        for name in names:
            rel = prefix + name
            if not ignored(rel, patterns) and not Path(folder, name).is_symlink():
                files.add(rel)
    return files


@dataclass
class Stage:
    name: str
    workdir: str = "/"
    files: dict[str, str] = field(default_factory=dict)  # image path -> context path


def _args(value: str) -> tuple[dict[str, str], list[str]]:
    """COPY/ADD arguments: the --flags, then the sources and the destination (shell or JSON)."""
    words = shlex.split(value)
    flags = {}
    while words and words[0].startswith("--"):
        name, _, flag_value = words.pop(0)[2:].partition("=")
        flags[name] = flag_value
    rest = " ".join(words)
    paths = [str(p) for p in json.loads(rest)] if rest.startswith("[") else words
    if len(paths) < 2:
        raise ValueError(f"COPY/ADD needs a source and a destination: {value!r}")
    return flags, paths


def _copy(
    sources: dict[str, str], patterns: list[str], dest: str, workdir: str, from_context: bool
) -> dict[str, str]:
    """What one COPY adds: `sources` is what it copies from (path -> context path)."""
    if not dest.startswith("/"):
        dest = posixpath.join(workdir, dest)
    into_folder = dest.endswith("/") or len(patterns) > 1
    dest = posixpath.normpath(dest)
    added: dict[str, str] = {}
    for raw in patterns:
        pattern = posixpath.normpath(raw.lstrip("/") if from_context else raw)
        if not from_context and not pattern.startswith("/"):
            pattern = "/" + pattern
        if pattern in (".", "/"):
            tops = {path.split("/")[0 if from_context else 1] for path in sources}
            matches = sorted(tops) if from_context else sorted("/" + t for t in tops)
        else:
            matches = sorted(
                {
                    "/".join(path.split("/")[: pattern.count("/") + 1])
                    for path in sources
                    if fnmatch.fnmatchcase(
                        "/".join(path.split("/")[: pattern.count("/") + 1]), pattern
                    )
                }
            )
        if not matches and from_context:
            raise ValueError(f"COPY source {raw!r} matches nothing (.dockerignore?)")
        # From another stage, a path no COPY put there was made by a RUN (the venv): not ours.
        for match in matches:
            if match in sources:  # a file
                target = posixpath.join(dest, posixpath.basename(match)) if into_folder else dest
                added[target] = sources[match]
            else:  # a folder: its contents go into dest
                for path, origin in sources.items():
                    if path.startswith(match + "/"):
                        added[posixpath.join(dest, path[len(match) + 1 :])] = origin
    return added


def image_files(root: Path, dockerfile: str = "Dockerfile") -> dict[str, str]:
    """The final stage's files that come from the context: image path -> context path."""
    context = {path: path for path in context_files(root)}
    parser = DockerfileParser(path=str(root / dockerfile))
    stages: list[Stage] = []
    for instruction in parser.structure:
        kind, value = instruction["instruction"], instruction["value"]
        if kind == "FROM":
            words = value.split()
            name = words[2] if len(words) >= 3 and words[1].lower() == "as" else str(len(stages))
            base = next((s for s in stages if s.name == words[0]), None)
            stages.append(Stage(name, base.workdir, dict(base.files)) if base else Stage(name=name))
        elif not stages:
            continue
        elif kind == "WORKDIR":
            stages[-1].workdir = posixpath.normpath(posixpath.join(stages[-1].workdir, value))
        elif kind in ("COPY", "ADD"):
            flags, paths = _args(value)
            if kind == "ADD" and any(re.match(r"^[a-z]+://|^git@", p) for p in paths[:-1]):
                raise ValueError(f"ADD from a URL is not followed: {value!r}")
            source_stage = flags.get("from")
            if source_stage is None:
                sources, from_context = context, True
            else:
                found = next((s for s in stages[:-1] if s.name == source_stage), None)
                if found is None:
                    continue  # another image's files, not ours
                sources, from_context = found.files, False
            stages[-1].files.update(
                _copy(sources, paths[:-1], paths[-1], stages[-1].workdir, from_context)
            )
    if not stages:
        raise ValueError("the Dockerfile has no FROM")
    return stages[-1].files
