//! Reports one error to the server named by `SENTRY_DSN` (without it, the SDK stays disabled).

fn main() {
    let mut options = sentry::ClientOptions::default();
    options.attach_stacktrace = true;
    let _guard = sentry::init(options);
    let err = "forty-two".parse::<i32>().unwrap_err();
    sentry::capture_error(&err);
}
