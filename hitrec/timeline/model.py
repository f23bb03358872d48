"""The timeline model: what a timeline says, whatever format it was read from.

A :class:`Timeline` has an :class:`Output`, optional credits (``editor_share``) and a list of :class:`Track` s,
each a list of :class:`Clip` s. Codecs (``yaml_codec``: the ``hitrec: 1`` YAML; later OTIO) read a
file into this model and write it back; :mod:`hitrec.timeline.normalize` makes the normalized form
stored in a remix. The model never touches the repo or the media: placing clips needs the media's
durations and is the render plan's job (:mod:`hitrec.render.plan`).

``None`` in a clip means "not given". ``Clip.given`` lists the keys the timeline gave, in order, so a
codec writes back what was written (and nothing it did not say); ``lines`` maps them to the line they
were on, for error messages (empty for a timeline that was not read from a text file).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hitrec.errors import TimelineError

VERSION = 1
TRACK_KINDS = ("video", "audio", "text", "captions", "credits")
FITS = ("contain", "cover", "stretch", "contain-blur")
POSITIONS = (
    "center", "top", "bottom", "left", "right", "top-left", "top-right", "bottom-left", "bottom-right",
)
VIDEO_FORMATS = ("mp4", "webm")
AUDIO_FORMATS = ("wav", "mp3", "flac")
# ffmpeg's xfade transitions, in the order `ffmpeg -h filter=xfade` lists them (tests check the list against
# the bundled binary); ``crossfade`` is hitrec's name for xfade's ``fade``
XFADE_TRANSITIONS = (
    "fade", "wipeleft", "wiperight", "wipeup", "wipedown", "slideleft", "slideright", "slideup", "slidedown",
    "circlecrop", "rectcrop", "distance", "fadeblack", "fadewhite", "radial", "smoothleft", "smoothright",
    "smoothup", "smoothdown", "circleopen", "circleclose", "vertopen", "vertclose", "horzopen", "horzclose",
    "dissolve", "pixelize", "diagtl", "diagtr", "diagbl", "diagbr", "hlslice", "hrslice", "vuslice", "vdslice",
    "hblur", "fadegrays", "wipetl", "wipetr", "wipebl", "wipebr", "squeezeh", "squeezev", "zoomin", "fadefast",
    "fadeslow", "hlwind", "hrwind", "vuwind", "vdwind", "coverleft", "coverright", "coverup", "coverdown",
    "revealleft", "revealright", "revealup", "revealdown",
)
TRANSITIONS = ("crossfade", *XFADE_TRANSITIONS)
# afade's curves (`ffmpeg -h filter=afade`, without ``nofade``): the shape of a sound's fade
CURVES = (
    "tri", "qsin", "esin", "hsin", "log", "ipar", "qua", "cub", "squ", "cbr", "par", "exp", "iqsin", "ihsin",
    "dese", "desi", "losi", "sinc", "isinc", "quat", "quatr", "qsin2", "hsin2",
)
EASES = ("linear", "in", "out", "in-out")  # how a keyframe's value is reached from the previous one
ZOOMS = ("in", "out")
PANS = ("left", "right", "up", "down")
GRADIENTS = ("linear", "radial")
DIRECTIONS = ("down", "up", "right", "left")
KEYFRAME_KEYS = ("t", "scale", "position", "opacity", "gain", "ease")
GRADIENT_KEYS = ("type", "colors", "direction")
DEFAULT_FPS = 24
DEFAULT_SAMPLE_RATE = 48000
MAX_SECONDS = 24 * 3600.0
MAX_SIZE = 7680

TOP_KEYS = ("hitrec", "title", "output", "credits", "markers", "tracks")
# a marker: a named moment (or span) of the piece for review notes; rendering ignores it (docs/timeline.md)
MARKER_KEYS = ("at", "duration", "name", "color", "note")
MARKER_COLORS = ("red", "pink", "orange", "yellow", "green", "cyan", "blue", "purple", "magenta", "black",
                 "white")  # OpenTimelineIO's marker colours
OUTPUT_KEYS = ("size", "fps", "sample_rate", "format", "channels", "loudness")
CREDITS_KEYS = ("editor_share",)
TRACK_KEYS = ("kind", "name", "clips")
TRANSITION_KEYS = ("type", "duration", "curve")
MEDIA_CLIP_KEYS = (
    "fragment", "at", "from", "to", "duration", "speed", "gain", "fade_in", "fade_out", "loop", "mute",
    "fit", "position", "transition", "duck_under", "weight",
    # effects (docs/timeline.md): motion, freeze frames, generated backgrounds, fade curves
    "keyframes", "zoom", "pan", "amount", "scale", "freeze", "color", "gradient", "fade_curve",
)
CAPTION_CLIP_KEYS = ("fragment", "at", "duration", "size", "color", "outline", "position", "font", "weight")
CAPTION_POSITIONS = ("bottom", "top", "center")
CREDITS_STYLES = ("roll", "cards")
CREDITS_CLIP_KEYS = ("credits", "at", "duration", "fade_in", "fade_out", "size", "color", "font", "weight")
GENERATOR_KEYS = ("color", "gradient", "at", "duration", "fade_in", "fade_out", "transition", "weight",
                  "keyframes", "zoom", "pan", "amount", "scale", "position")
TEXT_CLIP_KEYS = ("text", "at", "duration", "fade_in", "fade_out", "position", "size", "color", "font",
                  "weight", "credits")  # ``credits:`` instead of ``text:``: the credits roll
CLIP_KEYS = tuple(dict.fromkeys(MEDIA_CLIP_KEYS + TEXT_CLIP_KEYS + CAPTION_CLIP_KEYS + CREDITS_CLIP_KEYS))

Number = int | float
Position = str | tuple[float, float]


@dataclass(frozen=True)
class Output:
    size: tuple[int, int] | None  # None: audio-only
    fps: float
    sample_rate: int
    format: str | None  # None: decided by the caller (output file extension, else mp4 / wav)
    channels: int = 2
    line: int | None = None
    loudness: Number | None = None  # the mix normalised to this EBU R128 target (LUFS); None: as mixed

    @property
    def has_video(self) -> bool:
        return self.size is not None


@dataclass(frozen=True)
class Transition:
    type: str
    duration: float
    type_given: bool = False  # whether the timeline spelled out ``type:`` (written back only then)
    curve: str | None = None  # the sound's cross-fade curve (afade's names); None: not given (tri)

    @property
    def xfade(self) -> str:
        """The name ffmpeg's xfade knows it by."""
        return "fade" if self.type == "crossfade" else self.type


@dataclass(frozen=True)
class Keyframe:
    """One keyframe of a clip: at ``t`` seconds into the clip, the values it gives (None: not given)."""

    t: float
    line: int
    where: str
    given: tuple[str, ...] = ()
    scale: float | None = None  # times the fitted picture
    position: tuple[float, float] | None = None  # the picture's centre, in fractions of the frame
    opacity: float | None = None  # 0..1
    gain: float | None = None  # dB
    ease: str = "linear"


@dataclass(frozen=True)
class Gradient:
    type: str  # linear | radial
    colors: tuple[str, ...]  # #rrggbb, 2 to 8
    direction: str = "down"  # linear: where the last colour is
    given: tuple[str, ...] = ()


@dataclass
class Clip:
    """One clip as written; ``None`` means "not given"."""

    where: str  # field path, e.g. tracks[0].clips[2]
    line: int
    lines: dict[str, int] = field(default_factory=dict)  # given key -> its line
    given: tuple[str, ...] = ()  # the keys the timeline gave, in its order
    fragment: str | None = None  # a fragment id (a unique prefix, or the full id once normalized)
    text: str | None = None
    at: Number | None = None
    from_: Number | None = None
    to: Number | None = None
    duration: Number | None = None
    speed: Number = 1.0
    gain: Number = 0.0
    fade_in: Number = 0.0
    fade_out: Number = 0.0
    loop: bool = False
    mute: bool = False
    fit: str = "contain"
    position: Position = "center"
    transition: Transition | None = None
    duck_under: str | None = None
    weight: Number | None = None
    size: int | None = None
    color: str | None = None  # #rrggbb
    font: str | None = None
    keyframes: tuple[Keyframe, ...] = ()
    zoom: str | None = None  # Ken Burns: in | out
    pan: str | None = None  # Ken Burns: left | right | up | down (where the view moves)
    amount: Number | None = None  # Ken Burns: how much further the picture zooms (0.2 = 20 %)
    scale: Number | None = None  # the picture drawn at this fraction of the frame (picture in picture)
    freeze: Number | None = None  # hold the source's frame at this time for the clip's duration
    gradient: Gradient | None = None  # a generated gradient background (with no fragment)
    fade_curve: str | None = None  # afade's curve for the sound's fade_in / fade_out
    outline: Number | None = None  # captions: the outline around the letters, in pixels
    credits: str | None = None  # the piece's credits, drawn as a scrolling roll or as cards

    @property
    def generated(self) -> bool:
        """A colour or gradient background: a video-track clip with no fragment (it is the editor's)."""
        return self.fragment is None and self.text is None and self.credits is None

    def line_of(self, key: str) -> int:
        return self.lines.get(key, self.line)

    def has(self, key: str) -> bool:
        """Whether the timeline gave ``key`` for this clip."""
        return key in self.given


@dataclass
class Track:
    kind: str
    name: str
    clips: list[Clip]
    where: str
    line: int
    name_line: int | None = None


@dataclass(frozen=True)
class Marker:
    """A named moment of the piece (``duration`` > 0: a span), kept as given; rendering ignores it."""

    at: Number
    line: int
    given: tuple[str, ...] = ()
    duration: Number = 0
    name: str = ""
    color: str | None = None
    note: str | None = None


@dataclass
class Timeline:
    file: str  # where it was read from, for messages
    title: str | None
    output: Output
    tracks: list[Track]
    credits: dict[str, Number] | None = None  # ``credits:`` as given: {} or {"editor_share": x}
    line: int = 1
    markers: tuple[Marker, ...] = ()

    def error(self, problem: str, *, line: int | None = None, where: str | None = None) -> TimelineError:
        return TimelineError(self.file, problem, line=line, field=where)

    def track_named(self, name: str) -> Track | None:
        return next((t for t in self.tracks if t.name == name), None)
