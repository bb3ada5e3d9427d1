//! Decoding on the rayon pool: the only file that knows rayon.

use std::sync::Arc;

use arrow_array::RecordBatch;
use rayon::prelude::*;

use crate::decode::Decoder;
use crate::error::Result;

/// Decodes `chunk` on the rayon pool and hands the batch, and the chunk's buffer for reuse,
/// to `done` there.
///
/// The caller keeps its own thread free for I/O; `done` typically sends the batch down a
/// channel whose order the caller controls.
pub fn decode_in_background<F>(decoder: Arc<Decoder>, chunk: Vec<u8>, done: F)
where
    F: FnOnce(Result<RecordBatch>, Vec<u8>) + Send + 'static,
{
    rayon::spawn(move || {
        let batch = decoder.decode(&chunk);
        done(batch, chunk)
    });
}

/// Decodes many chunks in parallel, results in the chunks' order.
pub fn decode_all(decoder: &Decoder, chunks: &[Vec<u8>]) -> Result<Vec<RecordBatch>> {
    chunks.par_iter().map(|chunk| decoder.decode(chunk)).collect()
}
