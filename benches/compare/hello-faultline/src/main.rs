//! Reports one error to the server named by `SENTRY_DSN` (without it, the SDK stays disabled).

fn main() {
    let _guard = faultline::init(faultline::ClientOptions::new());
    let err = "forty-two".parse::<i32>().unwrap_err();
    faultline::capture_error(&err);
}
