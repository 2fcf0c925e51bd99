//! Where a store command's output goes. Commands write through [`Output`], never to the
//! process's own stdout, so the same function serves `relais items` run in a terminal
//! ([`Terminal`]) and the same command run inside the daemon for a control-socket client
//! (`control::Remote`), byte for byte. Files a command writes (`backup --out`, `export`,
//! `digest preview --out`) also go through it: the client writes them as its own user, in
//! its own folder, via [`PartialFile`].

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use crate::progress::{self, Progress};

/// A command's view of its terminal.
pub trait Output {
    /// The answer (stdout): one JSON document with `--json`.
    fn out(&mut self) -> &mut dyn Write;
    /// Notes for the human (stderr).
    fn err(&mut self) -> &mut dyn Write;
    /// Write the file `path` (relative to the user's folder): `fill` writes its bytes.
    /// It appears complete or not at all; missing parent folders are created.
    fn file(
        &mut self,
        path: &Path,
        fill: &mut dyn FnMut(&mut dyn Write) -> anyhow::Result<()>,
    ) -> anyhow::Result<()>;
    /// A progress indicator for `len` steps (or an unknown number) of `label`.
    fn progress(&mut self, len: Option<u64>, label: &str) -> Progress;
}

/// The process's own stdout and stderr, and files in its folder.
pub struct Terminal {
    out: BufWriter<std::io::Stdout>,
    err: std::io::Stderr,
}

impl Terminal {
    pub fn new() -> Terminal {
        Terminal {
            out: BufWriter::new(std::io::stdout()),
            err: std::io::stderr(),
        }
    }
}

impl Default for Terminal {
    fn default() -> Self {
        Terminal::new()
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.out.flush();
    }
}

impl Output for Terminal {
    fn out(&mut self) -> &mut dyn Write {
        &mut self.out
    }
    fn err(&mut self) -> &mut dyn Write {
        // Keep the order of answer and notes when both go to one terminal.
        let _ = self.out.flush();
        &mut self.err
    }
    fn file(
        &mut self,
        path: &Path,
        fill: &mut dyn FnMut(&mut dyn Write) -> anyhow::Result<()>,
    ) -> anyhow::Result<()> {
        let mut file = PartialFile::create(path)?;
        fill(&mut file)?;
        file.commit()
    }
    fn progress(&mut self, len: Option<u64>, label: &str) -> Progress {
        match len {
            Some(len) => progress::bar(len, label),
            None => progress::counter(label),
        }
    }
}

/// A file being written beside its final name (`NAME.partial`) and renamed over it once
/// complete, so a failed or interrupted write never leaves a truncated file under the
/// name an operator will trust. Dropped without [`commit`](Self::commit), it is removed.
pub struct PartialFile {
    path: PathBuf,
    partial: PathBuf,
    writer: Option<BufWriter<std::fs::File>>,
}

impl PartialFile {
    pub fn create(path: &Path) -> anyhow::Result<PartialFile> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("{}: cannot create", parent.display()))?;
        }
        let mut name = path
            .file_name()
            .with_context(|| format!("{}: not a file name", path.display()))?
            .to_os_string();
        name.push(".partial");
        let partial = path.with_file_name(name);
        let file = std::fs::File::create(&partial)
            .with_context(|| format!("{}: cannot create", partial.display()))?;
        Ok(PartialFile {
            path: path.to_path_buf(),
            partial,
            writer: Some(BufWriter::new(file)),
        })
    }

    /// Flush, sync and rename into place.
    pub fn commit(mut self) -> anyhow::Result<()> {
        let Some(writer) = self.writer.take() else {
            anyhow::bail!("{}: already written", self.path.display());
        };
        writer
            .into_inner()
            .map_err(|e| e.into_error())
            .and_then(|f| f.sync_all())
            .with_context(|| format!("{}: cannot write", self.partial.display()))?;
        std::fs::rename(&self.partial, &self.path).with_context(|| {
            format!(
                "{}: cannot rename to {}",
                self.partial.display(),
                self.path.display()
            )
        })
    }
}

impl Write for PartialFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.writer {
            Some(w) => w.write(buf),
            None => Err(std::io::Error::other("file already committed")),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.writer {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_file_appears_only_when_committed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/backup.jsonl");
        let mut file = PartialFile::create(&path).unwrap();
        file.write_all(b"line\n").unwrap();
        assert!(!path.exists());
        file.commit().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"line\n");

        let abandoned = PartialFile::create(&dir.path().join("gone.jsonl")).unwrap();
        drop(abandoned);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("sub")]);
    }
}
