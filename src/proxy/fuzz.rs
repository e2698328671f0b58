//! Fuzz targets for the proxy's own HTTP/1.1 framing: request heads, response heads and
//! chunked bodies. Each takes any bytes and panics when a property the proxy relies on
//! breaks. `fuzz/` runs them under libFuzzer: with cargo-fuzz on nightly, or instrumented
//! on stable with `bash fuzz/run.sh` (bounded time); the tests below also run them over
//! the committed corpus (`fuzz/corpus/`) and a fixed number of seeded random mutations.

use super::h1::parse::{self, Chunked, Parsed};
use super::policy::Local;

/// A request head: what the proxy sends upstream is itself one well-framed request,
/// framed as the client's was, and the client's head is never read past its end.
pub fn request(data: &[u8]) {
    let Parsed::Done(request) = parse::request(data, "192.0.2.7", false) else {
        return;
    };
    assert!(request.len <= data.len());
    assert!(request.head.ends_with(b"\r\n\r\n"));
    match parse::request(&request.head, "192.0.2.7", false) {
        Parsed::Done(again) => {
            assert_eq!(again.len, request.head.len(), "one head, whole");
            assert_eq!(again.framing, request.framing, "framed alike");
            assert_eq!(again.head_only, request.head_only);
        }
        // The proxy adds a few headers of its own: a head at the limits may grow past them.
        Parsed::Refuse(Local::HeadersTooLarge) => {}
        other => panic!(
            "the rewritten head {:?} gave {other:?}",
            lossy(&request.head)
        ),
    }
}

/// A response head, as the answer to a HEAD request and to another: what goes to the
/// client is one head framed as the app's was.
pub fn response(data: &[u8]) {
    for head_only in [false, true] {
        let Parsed::Done(mut response) = parse::response(data, head_only) else {
            continue;
        };
        assert!(response.len <= data.len());
        let (status, framing) = (response.status, response.framing);
        response.finish(false, false);
        match parse::response(&response.head, head_only) {
            Parsed::Done(again) => {
                assert_eq!(again.len, response.head.len(), "one head, whole");
                assert_eq!((again.status, again.framing), (status, framing));
            }
            other => panic!(
                "the rewritten head {:?} gave {other:?}",
                lossy(&response.head)
            ),
        }
    }
}

/// A chunked body: where it ends does not depend on how its bytes were split into reads.
pub fn chunked(data: &[u8]) {
    let whole = Chunked::default().scan(data);
    if let Ok(Some(end)) = whole {
        assert!(end <= data.len());
    }
    let splits = [1, data.len() / 2, data.len().saturating_sub(1)];
    for split in splits.into_iter().filter(|s| *s > 0 && *s < data.len()) {
        let mut scanner = Chunked::default();
        let split_result = match scanner.scan(&data[..split]) {
            Ok(None) => scanner
                .scan(&data[split..])
                .map(|end| end.map(|end| split + end)),
            done => done,
        };
        assert_eq!(split_result, whole, "split at {split}");
    }
    if data.len() <= 4096 {
        let mut scanner = Chunked::default();
        let mut bytewise = Ok(None);
        for (i, byte) in data.iter().enumerate() {
            bytewise = scanner
                .scan(std::slice::from_ref(byte))
                .map(|end| end.map(|end| i + end));
            if !matches!(bytewise, Ok(None)) {
                break;
            }
        }
        assert_eq!(bytewise, whole, "byte by byte");
    }
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The fuzz targets on stable: bounded, seeded, over the committed corpus.
#[cfg(test)]
pub(crate) mod mutate {
    use std::path::PathBuf;

    /// The committed corpus of a target.
    pub fn corpus(target: &str) -> Vec<Vec<u8>> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(target);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        files.sort();
        let corpus: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
        assert!(!corpus.is_empty(), "no corpus in {}", dir.display());
        corpus
    }

    /// A small deterministic generator (xorshift64*): the same mutations on every run.
    pub struct Rng(u64);

    impl Rng {
        pub fn new(seed: u64) -> Rng {
            Rng(seed.max(1))
        }

        pub fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        pub fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }
    }

    /// Bytes and words HTTP/1.1 framing turns on.
    const TOKENS: &[&[u8]] = &[
        b"\r\n",
        b"\n",
        b"\r",
        b" ",
        b"\t",
        b":",
        b";",
        b",",
        b"0",
        b"f",
        b"\r\n\r\n",
        b"Content-Length: ",
        b"Transfer-Encoding: chunked",
        b"chunked",
        b"Connection: close",
        b"Host: a",
        b"HTTP/1.0",
        b"0\r\n\r\n",
        b"\x00",
        b"\xff",
    ];

    /// One to four random edits of `input`, some of them splicing in `other`.
    pub fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
        let mut data = input.to_vec();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(data.len() + 1);
            match rng.below(6) {
                0 if !data.is_empty() => {
                    let i = rng.below(data.len());
                    data[i] ^= 1 << rng.below(8);
                }
                1 => {
                    let token = TOKENS[rng.below(TOKENS.len())];
                    data.splice(at..at, token.iter().copied());
                }
                2 if at < data.len() => {
                    let end = (at + 1 + rng.below(16)).min(data.len());
                    data.drain(at..end);
                }
                3 if at < data.len() => {
                    let end = (at + 1 + rng.below(32)).min(data.len());
                    let copy = data[at..end].to_vec();
                    data.splice(at..at, copy);
                }
                4 if !other.is_empty() => {
                    let from = rng.below(other.len());
                    let end = (from + 1 + rng.below(64)).min(other.len());
                    data.splice(at..at, other[from..end].iter().copied());
                }
                _ => data.truncate(at),
            }
        }
        data
    }

    /// Run `target` over `corpus` and `iterations` mutations of it.
    pub fn run(corpus: &[Vec<u8>], iterations: usize, seed: u64, mut target: impl FnMut(&[u8])) {
        for input in corpus {
            target(input);
        }
        let mut rng = Rng::new(seed);
        for _ in 0..iterations {
            let input = &corpus[rng.below(corpus.len())];
            let other = &corpus[rng.below(corpus.len())];
            let data = mutate(&mut rng, input, other);
            target(&data);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::mutate::{corpus, run};
    use super::*;

    #[test]
    fn the_request_target_holds_over_the_corpus_and_its_mutations() {
        run(&corpus("request"), 20_000, 0x7e57_0001, request);
    }

    #[test]
    fn the_response_target_holds_over_the_corpus_and_its_mutations() {
        run(&corpus("response"), 20_000, 0x7e57_0002, response);
    }

    #[test]
    fn the_chunked_target_holds_over_the_corpus_and_its_mutations() {
        run(&corpus("chunked"), 20_000, 0x7e57_0003, chunked);
    }
}
