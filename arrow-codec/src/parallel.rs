//! Decoding and encoding on a thread pool of our own: the only file that knows rayon.
//!
//! The pool has one thread fewer than the machine has cores (at least one): the PostgreSQL
//! backend streaming the rows usually runs on the same machine and is the bottleneck of a
//! read, so taking every core for decoding would slow it down. `DATA_BRIDGE_DECODE_THREADS`
//! overrides the size.

use std::sync::{Arc, OnceLock};

use arrow_array::RecordBatch;
use rayon::prelude::*;
use rayon::ThreadPool;

use crate::decode::Decoder;
use crate::encode::Encoder;
use crate::error::Result;

fn pool() -> &'static ThreadPool {
    static POOL: OnceLock<ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = std::env::var("DATA_BRIDGE_DECODE_THREADS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(cores.saturating_sub(1))
            .max(1);
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("data-bridge-decode-{i}"))
            .build()
            .expect("the OS refused to start the decoder threads")
    })
}

/// Decodes `chunk` on the pool and hands the batch, and the chunk's buffer for reuse, to
/// `done` there.
///
/// The caller keeps its own thread free for I/O; `done` typically sends the batch down a
/// channel whose order the caller controls.
pub fn decode_in_background<F>(decoder: Arc<Decoder>, chunk: Vec<u8>, done: F)
where
    F: FnOnce(Result<RecordBatch>, Vec<u8>) + Send + 'static,
{
    pool().spawn(move || {
        let batch = decoder.decode(&chunk);
        done(batch, chunk)
    });
}

/// Decodes many chunks in parallel on the pool, results in the chunks' order.
pub fn decode_all(decoder: &Decoder, chunks: &[Vec<u8>]) -> Result<Vec<RecordBatch>> {
    pool().install(|| chunks.par_iter().map(|chunk| decoder.decode(chunk)).collect())
}

/// Encodes batches in parallel on the pool into one buffer of COPY tuples each, in order.
pub fn encode_all(encoder: &Encoder, batches: &[RecordBatch]) -> Result<Vec<Vec<u8>>> {
    pool().install(|| {
        batches
            .par_iter()
            .map(|batch| {
                let mut out = Vec::new();
                encoder.encode(batch, &mut out)?;
                Ok(out)
            })
            .collect()
    })
}

/// How many batches [`encode_all`] works on at once to keep the pool busy.
pub fn parallelism() -> usize {
    pool().current_num_threads()
}
