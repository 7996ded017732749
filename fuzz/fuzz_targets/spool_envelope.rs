//! Envelopes read back from spool files, on any bytes: reading never panics, and an envelope it reads, written
//! again, reads back to the same envelope. The public full parse (`Envelope::from_slice`) runs on the same bytes.

#![no_main]

use faultline::fuzzing::read_spooled_envelope;
use faultline::protocol::Envelope;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Envelope::from_slice(data);
    let Ok(envelope) = read_spooled_envelope(data) else {
        return;
    };
    let written = envelope.to_vec(None);
    assert_eq!(read_spooled_envelope(&written).as_ref(), Ok(&envelope));
});
