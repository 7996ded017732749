//! Client-side limits, so events stay within what servers accept instead of being trimmed or rejected there.
//!
//! The numbers follow Relay's: messages and exception values are trimmed at 8192 characters, tag values over 200
//! characters are deleted by the server (so they are cut here), function names are cut at 256, and at most 250
//! frames are kept per stack. A long stack keeps the frames nearest the error and the outermost ones, which together
//! say where it failed and how the program got there.

use crate::chain::{MAX_VALUE_LEN, truncate};
use crate::protocol::{Event, Frame};

/// The longest tag key and value.
pub(crate) const MAX_TAG_LEN: usize = 200;
/// The longest function name.
pub(crate) const MAX_FUNCTION_LEN: usize = 256;
/// The most frames per stack trace.
pub(crate) const MAX_FRAMES: usize = 250;
/// Of [`MAX_FRAMES`], how many of the outermost calls are kept; the rest are the innermost.
pub(crate) const KEEP_OUTERMOST: usize = 50;
/// Tag names the server does not accept as tags; such tags are moved to `extra` as `tag:{name}`.
const RESERVED_TAGS: &[&str] = &["release", "dist", "user", "filename", "function"];

/// Applies every limit to `event` in place.
pub(crate) fn apply(event: &mut Event) {
    if let Some(message) = event.message.take() {
        event.message = Some(truncate(message, MAX_VALUE_LEN));
    }
    for exception in &mut event.exception {
        if let Some(value) = exception.value.take() {
            exception.value = Some(truncate(value, MAX_VALUE_LEN));
        }
        if let Some(stacktrace) = &mut exception.stacktrace {
            limit_frames(&mut stacktrace.frames);
        }
    }
    for thread in &mut event.threads {
        if let Some(stacktrace) = &mut thread.stacktrace {
            limit_frames(&mut stacktrace.frames);
        }
    }
    let tags = std::mem::take(&mut event.tags);
    for (key, value) in tags {
        if key.chars().count() > MAX_TAG_LEN || key.is_empty() {
            continue;
        }
        if RESERVED_TAGS.contains(&key.as_str()) {
            event.extra.insert(format!("tag:{key}"), value.into());
            continue;
        }
        event.tags.insert(key, truncate_chars(value, MAX_TAG_LEN));
    }
}

/// Keeps at most [`MAX_FRAMES`] frames (frames are oldest first: the outermost at the start, the error's at the
/// end) and cuts long function names.
pub(crate) fn limit_frames(frames: &mut Vec<Frame>) {
    if frames.len() > MAX_FRAMES {
        let inner = MAX_FRAMES - KEEP_OUTERMOST;
        frames.drain(KEEP_OUTERMOST..frames.len() - inner);
    }
    for frame in frames.iter_mut() {
        if let Some(function) = frame.function.take() {
            frame.function = Some(truncate_chars(function, MAX_FUNCTION_LEN));
        }
    }
}

/// Cuts to at most `max` characters (the server counts characters, not bytes), marking the cut with `…`.
fn truncate_chars(mut s: String, max: usize) -> String {
    if s.char_indices().nth(max).is_none() {
        return s;
    }
    if max == 0 {
        s.clear();
        return s;
    }
    let cut = s
        .char_indices()
        .nth(max.saturating_sub(1))
        .map_or(0, |(i, _)| i);
    s.truncate(cut);
    s.push('…');
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Exception, Stacktrace};

    #[test]
    fn truncate_chars_counts_characters_and_marks_the_cut() {
        let cases = [
            ("héllo", 5, "héllo"),
            ("héllo", 4, "hél…"),
            ("héllo", 1, "…"),
            ("héllo", 0, ""),
            ("", 0, ""),
            ("日本語テキスト", 3, "日本…"),
        ];
        for (text, max, want) in cases {
            let got = truncate_chars(text.to_owned(), max);
            assert_eq!(got, want, "{text:?} to {max}");
            assert!(got.chars().count() <= max, "{text:?} to {max}");
        }
    }

    #[test]
    fn long_stacks_keep_both_ends() {
        let frames: Vec<Frame> = (0..1000)
            .map(|i| Frame {
                function: Some(format!("f{i}")),
                ..Frame::default()
            })
            .collect();
        let mut event = Event::new();
        event.exception.push(Exception {
            ty: "E".into(),
            stacktrace: Some(Stacktrace { frames }),
            ..Exception::default()
        });
        apply(&mut event);
        let kept = &event.exception[0].stacktrace.as_ref().unwrap().frames;
        assert_eq!(kept.len(), MAX_FRAMES);
        assert_eq!(kept[0].function.as_deref(), Some("f0"));
        assert_eq!(kept[KEEP_OUTERMOST - 1].function.as_deref(), Some("f49"));
        assert_eq!(kept[KEEP_OUTERMOST].function.as_deref(), Some("f800"));
        assert_eq!(kept.last().unwrap().function.as_deref(), Some("f999"));
    }

    #[test]
    fn strings_and_tags_are_bounded() {
        let mut event = Event::new();
        event.message = Some("m".repeat(20_000));
        event.tags.insert("ok".into(), "v".repeat(500));
        event.tags.insert("k".repeat(201), "dropped".into());
        event.tags.insert("release".into(), "moved".into());
        event.exception.push(Exception {
            ty: "E".into(),
            value: Some("ü".repeat(9000)),
            stacktrace: Some(Stacktrace {
                frames: vec![Frame {
                    function: Some("x".repeat(1000)),
                    ..Frame::default()
                }],
            }),
            ..Exception::default()
        });
        apply(&mut event);
        assert!(event.message.as_ref().unwrap().len() <= MAX_VALUE_LEN);
        assert!(event.exception[0].value.as_ref().unwrap().len() <= MAX_VALUE_LEN);
        assert_eq!(event.tags["ok"].chars().count(), MAX_TAG_LEN);
        assert_eq!(event.tags.len(), 1);
        assert_eq!(event.extra["tag:release"], "moved");
        let frame = &event.exception[0].stacktrace.as_ref().unwrap().frames[0];
        assert_eq!(
            frame.function.as_ref().unwrap().chars().count(),
            MAX_FUNCTION_LEN
        );
    }
}
