"""Rendering: timeline YAML -> validated model (timeline) -> plan -> an engine writes the piece.

    timeline.py        load and validate a timeline, with file/line/field errors
    plan.py            resolve fragments (a Resolver: the repo, or fixed sources), place every clip,
                       normalize the timeline stored in a remix
    ffmpeg_engine.py   the default engine: one ffmpeg filter graph, deterministic output
    moviepy_engine.py  the reference engine (moviepy + pydub), for cross-checking and benchmarks
    ops.py             render, remix, verify: a repo in, a result dataclass out
"""
