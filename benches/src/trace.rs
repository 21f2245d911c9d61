//! Reading recorded cache traces: a stream of `u64` keys from ARC `.lis` or LIRS files, plain
//! or compressed.
//!
//! Formats (see `../shared/traces/README.md`):
//! - [`TraceFormat::Arc`]: one request a line, `start count ignored request_no`; the request
//!   touches keys `start .. start + count`, in order. Blank lines are skipped.
//! - [`TraceFormat::Lirs`]: one decimal key a line; blank lines and lines starting with `*`
//!   are skipped.
//!
//! Compression is recognised from the first bytes (zstd or gzip magic), so a renamed file still
//! reads. The format comes from the file name (`.lis` → ARC, `.trace` → LIRS) or, failing that,
//! from the first data line (four numbers → ARC, one → LIRS); [`open_as`] takes it explicitly.
//!
//! # Examples
//!
//! ```no_run
//! use patinox_memory_benches::trace;
//!
//! let mut requests = 0;
//! for key in trace::open("../shared/traces/lirs-sprite.trace.gz")? {
//!     let _key: u64 = key?;
//!     requests += 1;
//! }
//! let keys = trace::load("../shared/traces/arc-OLTP.lis.zst")?; // all keys in memory
//! # Ok::<(), trace::TraceError>(())
//! ```

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

/// The line format of a trace file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceFormat {
    /// ARC `.lis`: `start count ignored request_no`, expanding to keys `start..start+count`.
    Arc,
    /// LIRS: one key a line; `*` lines and blank lines are skipped.
    Lirs,
}

/// Why a trace could not be read.
#[derive(Debug)]
pub enum TraceError {
    /// The file could not be opened, read or decompressed.
    Io {
        /// The trace file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A line does not have the expected shape.
    Malformed {
        /// The trace file.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What the format expects there.
        expected: &'static str,
        /// The offending line (truncated to 80 characters).
        found: String,
    },
    /// Neither the file name nor the first data line tells the format.
    UnknownFormat {
        /// The trace file.
        path: PathBuf,
    },
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceError::Io { path, source } => {
                write!(f, "cannot read trace {}: {source}", path.display())
            }
            TraceError::Malformed {
                path,
                line,
                expected,
                found,
            } => write!(
                f,
                "{}:{line}: expected {expected}, found {found:?}",
                path.display()
            ),
            TraceError::UnknownFormat { path } => write!(
                f,
                "cannot tell the format of {} (name it *.lis or *.trace, or pass the format)",
                path.display()
            ),
        }
    }
}

impl std::error::Error for TraceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TraceError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

const ARC_EXPECTED: &str = "four whitespace-separated integers `start count ignored request_no`";
const LIRS_EXPECTED: &str = "one unsigned integer key";

/// Opens `path`, detecting compression and format.
///
/// # Errors
///
/// [`TraceError::Io`] if the file cannot be opened or decompressed, [`TraceError::UnknownFormat`]
/// if the format cannot be told.
pub fn open(path: impl AsRef<Path>) -> Result<TraceReader, TraceError> {
    let path = path.as_ref();
    let mut lines = open_lines(path)?;
    let format = match format_from_name(path) {
        Some(f) => f,
        None => sniff_format(path, &mut lines)?,
    };
    Ok(TraceReader::new(path, lines, format))
}

/// Opens `path` as `format`, detecting compression.
///
/// # Errors
///
/// [`TraceError::Io`] if the file cannot be opened or decompressed.
pub fn open_as(path: impl AsRef<Path>, format: TraceFormat) -> Result<TraceReader, TraceError> {
    let path = path.as_ref();
    Ok(TraceReader::new(path, open_lines(path)?, format))
}

/// Reads every key of the trace at `path` into memory (format detected).
///
/// # Errors
///
/// Any [`TraceError`] of [`open`] or of a line.
pub fn load(path: impl AsRef<Path>) -> Result<Vec<u64>, TraceError> {
    open(path)?.collect()
}

/// The format a file name implies, if any: `.lis` → ARC, `.trace` → LIRS (compression
/// suffixes ignored).
pub fn format_from_name(path: &Path) -> Option<TraceFormat> {
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    let name = name
        .strip_suffix(".zst")
        .or_else(|| name.strip_suffix(".gz"))
        .unwrap_or(&name);
    if name.ends_with(".lis") {
        Some(TraceFormat::Arc)
    } else if name.ends_with(".trace") || name.ends_with(".lirs") {
        Some(TraceFormat::Lirs)
    } else {
        None
    }
}

fn io_err(path: &Path, source: io::Error) -> TraceError {
    TraceError::Io {
        path: path.to_owned(),
        source,
    }
}

fn open_lines(path: &Path) -> Result<Box<dyn BufRead + Send>, TraceError> {
    let file = File::open(path).map_err(|e| io_err(path, e))?;
    let mut raw = BufReader::with_capacity(1 << 16, file);
    let magic = raw.fill_buf().map_err(|e| io_err(path, e))?;
    let reader: Box<dyn BufRead + Send> = if magic.starts_with(&[0x28, 0xB5, 0x2F, 0xFD]) {
        let dec = zstd::stream::read::Decoder::with_buffer(raw).map_err(|e| io_err(path, e))?;
        Box::new(BufReader::with_capacity(1 << 16, dec))
    } else if magic.starts_with(&[0x1F, 0x8B]) {
        Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::bufread::MultiGzDecoder::new(raw),
        ))
    } else {
        Box::new(raw)
    };
    Ok(reader)
}

/// Tells the format from the first data line without consuming it.
fn sniff_format(
    path: &Path,
    lines: &mut Box<dyn BufRead + Send>,
) -> Result<TraceFormat, TraceError> {
    let buf = lines.fill_buf().map_err(|e| io_err(path, e))?;
    let text = String::from_utf8_lossy(&buf[..buf.len().min(4096)]).into_owned();
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('*'));
    let fields = first.map(|l| l.split_whitespace().count());
    match fields {
        Some(4) => Ok(TraceFormat::Arc),
        Some(1) => Ok(TraceFormat::Lirs),
        _ => Err(TraceError::UnknownFormat {
            path: path.to_owned(),
        }),
    }
}

/// An iterator over the keys of a trace, line by line (ARC lines expanded).
pub struct TraceReader {
    path: PathBuf,
    lines: Box<dyn BufRead + Send>,
    format: TraceFormat,
    line: u64,
    buf: String,
    /// Keys still to yield from the current ARC line.
    pending: std::ops::Range<u64>,
    failed: bool,
}

impl fmt::Debug for TraceReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceReader")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("line", &self.line)
            .finish_non_exhaustive()
    }
}

impl TraceReader {
    fn new(path: &Path, lines: Box<dyn BufRead + Send>, format: TraceFormat) -> Self {
        Self {
            path: path.to_owned(),
            lines,
            format,
            line: 0,
            buf: String::new(),
            pending: 0..0,
            failed: false,
        }
    }

    /// Wraps any buffered reader of uncompressed text (for tests and pipes); `name` is used in
    /// error messages.
    pub fn from_reader(
        name: &str,
        reader: impl BufRead + Send + 'static,
        format: TraceFormat,
    ) -> Self {
        Self::new(Path::new(name), Box::new(reader), format)
    }

    /// The format being read.
    pub fn format(&self) -> TraceFormat {
        self.format
    }

    fn malformed(&mut self, expected: &'static str) -> TraceError {
        self.failed = true;
        let found: String = self.buf.trim_end().chars().take(80).collect();
        TraceError::Malformed {
            path: self.path.clone(),
            line: self.line,
            expected,
            found,
        }
    }

    fn parse_line(&mut self) -> Result<Option<std::ops::Range<u64>>, TraceError> {
        let line = self.buf.trim();
        if line.is_empty() {
            return Ok(None);
        }
        match self.format {
            TraceFormat::Lirs => {
                if line.starts_with('*') {
                    return Ok(None);
                }
                match line.parse::<u64>() {
                    Ok(k) => Ok(Some(k..k + 1)),
                    Err(_) => Err(self.malformed(LIRS_EXPECTED)),
                }
            }
            TraceFormat::Arc => {
                let mut fields = line.split_whitespace();
                let nums: Vec<Option<u64>> =
                    fields.by_ref().take(4).map(|f| f.parse().ok()).collect();
                let extra = fields.next().is_some();
                match nums.as_slice() {
                    [Some(start), Some(count), Some(_), Some(_)] if !extra => {
                        match start.checked_add(*count) {
                            Some(end) => Ok(Some(*start..end)),
                            None => Err(self.malformed("start + count to fit in 64 bits")),
                        }
                    }
                    _ => Err(self.malformed(ARC_EXPECTED)),
                }
            }
        }
    }
}

impl Iterator for TraceReader {
    type Item = Result<u64, TraceError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(k) = self.pending.next() {
                return Some(Ok(k));
            }
            if self.failed {
                return None;
            }
            self.buf.clear();
            match self.lines.read_line(&mut self.buf) {
                Ok(0) => return None,
                Ok(_) => self.line += 1,
                Err(e) => {
                    self.failed = true;
                    return Some(Err(io_err(&self.path, e)));
                }
            }
            match self.parse_line() {
                Ok(Some(range)) => self.pending = range,
                Ok(None) => {}
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &'static str, format: TraceFormat) -> Result<Vec<u64>, TraceError> {
        TraceReader::from_reader("t", io::Cursor::new(text), format).collect()
    }

    #[test]
    fn arc_lines_expand_to_consecutive_keys() {
        let keys = read("10 3 0 1\n\n20 1 0 2\n", TraceFormat::Arc).unwrap();
        assert_eq!(keys, [10, 11, 12, 20]);
    }

    #[test]
    fn lirs_skips_blank_and_star_lines() {
        let keys = read("5\n*\n* comment\n\n7\n", TraceFormat::Lirs).unwrap();
        assert_eq!(keys, [5, 7]);
    }

    #[test]
    fn malformed_lines_name_line_number_and_expectation() {
        let err = read("1 2 0 1\n1 x 0 2\n", TraceFormat::Arc).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(err, TraceError::Malformed { line: 2, .. }),
            "{msg}"
        );
        assert!(
            msg.contains("t:2: expected four whitespace-separated integers"),
            "{msg}"
        );
        let err = read("1\nabc\n", TraceFormat::Lirs).unwrap_err();
        assert!(
            err.to_string()
                .contains("t:2: expected one unsigned integer key")
        );
    }

    #[test]
    fn format_comes_from_the_name() {
        assert_eq!(
            format_from_name(Path::new("a/arc-P3.lis.zst")),
            Some(TraceFormat::Arc)
        );
        assert_eq!(
            format_from_name(Path::new("lirs-loop.trace.gz")),
            Some(TraceFormat::Lirs)
        );
        assert_eq!(format_from_name(Path::new("x.bin")), None);
    }

    #[test]
    fn compressed_files_and_unnamed_formats_are_detected() {
        let dir = std::env::temp_dir().join(format!("patinox-trace-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let zst = dir.join("data.bin");
        std::fs::write(&zst, zstd::encode_all(&b"4 2 0 1\n"[..], 1).unwrap()).unwrap();
        assert_eq!(load(&zst).unwrap(), [4, 5]);
        let gz = dir.join("keys");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        io::Write::write_all(&mut enc, b"*\n9\n8\n").unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        assert_eq!(load(&gz).unwrap(), [9, 8]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
