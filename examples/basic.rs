//! The minimal setup: three lines. Reads the DSN from `SENTRY_DSN`; without it, the SDK stays disabled.

fn main() {
    let _guard = faultline::init(());
    let err = "forty-two".parse::<i32>().unwrap_err();
    faultline::capture_error(&err);
}
