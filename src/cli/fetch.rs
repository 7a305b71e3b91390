//! `meshflow fetch mnist|bunny [--dir DIR] [--mirror URL]`: downloads the data sets meshflow
//! does not ship from their canonical locations, verifies their sha256 and writes them
//! atomically into the data directory, in the layout the loaders look for
//! ([`crate::builtin::find_data_file`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

use super::FetchArgs;
use crate::builtin::default_fetch_dir;
use crate::geometry::io::write_atomic;

/// Environment variable naming a mirror (base URL) that replaces every canonical location.
pub const MIRROR_ENV: &str = "MESHFLOW_MIRROR";

/// A file a data set provides, with the sha256 of the canonical file.
struct Expected {
    file: &'static str,
    sha256: &'static str,
}

/// How a data set is downloaded.
enum Download {
    /// One URL per file: `base + file`.
    Files,
    /// One archive (`base + archive`, a `.tar.gz`) holding the files, in any folder.
    TarGz { archive: &'static str },
}

/// A data set `meshflow fetch` knows.
struct Dataset {
    name: &'static str,
    /// Sub-folder of the data directory.
    folder: &'static str,
    base_url: &'static str,
    download: Download,
    files: &'static [Expected],
    about: &'static str,
}

const DATASETS: &[Dataset] = &[
    Dataset {
        name: "mnist",
        folder: "mnist",
        base_url: "https://ossci-datasets.s3.amazonaws.com/mnist/",
        download: Download::Files,
        files: &[
            Expected {
                file: "train-images-idx3-ubyte.gz",
                sha256: "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            },
            Expected {
                file: "train-labels-idx1-ubyte.gz",
                sha256: "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            },
            Expected {
                file: "t10k-images-idx3-ubyte.gz",
                sha256: "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            },
            Expected {
                file: "t10k-labels-idx1-ubyte.gz",
                sha256: "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            },
        ],
        about: "the MNIST database (LeCun, Cortes, Burges; CC BY-SA 3.0)",
    },
    Dataset {
        name: "bunny",
        folder: "bunny",
        base_url: "http://graphics.stanford.edu/pub/3Dscanrep/",
        download: Download::TarGz {
            archive: "bunny.tar.gz",
        },
        files: &[
            Expected {
                file: "bun_zipper.ply",
                sha256: "d078b428b409fc219523afbb49165a26fb1871693658225d4354f4696657a202",
            },
            Expected {
                file: "bun_zipper_res3.ply",
                sha256: "c53d1a398dbb361d3182e62f022902fc99d3a79773e6ec98710957847292bfa7",
            },
            Expected {
                file: "bun_zipper_res4.ply",
                sha256: "676e71e234f544549396730343cf37615dcfa0285d81a58d414c9d5f966a684b",
            },
        ],
        about: "the Stanford bunny (Stanford 3D Scanning Repository, Turk & Levoy 1994; free \
                for research with acknowledgement)",
    },
];

/// Names of the data sets `meshflow fetch` downloads.
pub(super) const FETCHABLE: &[&str] = &["mnist", "bunny"];

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `path` exists with the expected content.
fn valid(path: &Path, e: &Expected) -> bool {
    std::fs::read(path).is_ok_and(|b| sha256_hex(&b) == e.sha256)
}

/// `meshflow fetch NAME [--dir DIR] [--mirror URL]`.
pub(super) fn fetch(args: &FetchArgs) -> Result<()> {
    let Some(set) = DATASETS.iter().find(|d| d.name == args.name) else {
        bail!(
            "unknown data set `{}`; meshflow fetch knows {}",
            args.name,
            FETCHABLE.join(", ")
        );
    };
    let root = match &args.dir {
        Some(d) => d.clone(),
        None => default_fetch_dir().context(
            "no data directory: pass --dir DIR, or set MESHFLOW_DATA (or HOME, for \
             ~/.cache/meshflow/data)",
        )?,
    };
    let dir = root.join(set.folder);
    let mirror = args
        .mirror
        .clone()
        .or_else(|| std::env::var(MIRROR_ENV).ok().filter(|m| !m.is_empty()));
    let base = match &mirror {
        Some(m) => format!("{}/", m.trim_end_matches('/')),
        None => set.base_url.to_string(),
    };
    let missing: Vec<&Expected> = set
        .files
        .iter()
        .filter(|e| !valid(&dir.join(e.file), e))
        .collect();
    if missing.is_empty() {
        println!(
            "{}: all {} files present and verified in {}",
            set.name,
            set.files.len(),
            dir.display()
        );
        return Ok(());
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(15)))
        .timeout_global(Some(Duration::from_secs(1800)))
        .build()
        .into();
    let by_hand = || {
        let urls: Vec<String> = match set.download {
            Download::Files => missing
                .iter()
                .map(|e| format!("{}{}", set.base_url, e.file))
                .collect(),
            Download::TarGz { archive } => vec![format!(
                "{}{archive} (unpack it and take {})",
                set.base_url,
                missing
                    .iter()
                    .map(|e| e.file)
                    .collect::<Vec<_>>()
                    .join(", ")
            )],
        };
        format!(
            "without network, download {} by hand and put the files into {} (or into \
             $MESHFLOW_DATA/{}/); `meshflow fetch {}` then verifies them",
            urls.join(", "),
            dir.display(),
            set.folder,
            set.name
        )
    };
    let get = |url: &str| -> Result<Vec<u8>> {
        let failed = |e: ureq::Error| match e {
            ureq::Error::StatusCode(code) => {
                anyhow::anyhow!("{url}: the server answered HTTP {code}; {}", by_hand())
            }
            other => anyhow::anyhow!("cannot download {url} ({other}): offline?; {}", by_hand()),
        };
        let mut resp = agent.get(url).call().map_err(failed)?;
        resp.body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()
            .map_err(failed)
    };
    let check = |e: &Expected, bytes: &[u8], from: &str| -> Result<()> {
        let got = sha256_hex(bytes);
        if got != e.sha256 {
            bail!(
                "sha256 mismatch for {} from {from}: got {got}, expected {}; the download is \
                 damaged or the server sends another file, so it was not written",
                e.file,
                e.sha256
            );
        }
        Ok(())
    };
    let save = |e: &Expected, bytes: &[u8]| -> Result<()> {
        let path = dir.join(e.file);
        write_atomic(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        println!(
            "{}: {} ({} bytes, sha256 verified)",
            set.name,
            path.display(),
            bytes.len()
        );
        Ok(())
    };
    match set.download {
        Download::Files => {
            for e in &missing {
                let url = format!("{base}{}", e.file);
                eprintln!("downloading {url}");
                let bytes = get(&url)?;
                check(e, &bytes, &url)?;
                save(e, &bytes)?;
            }
        }
        Download::TarGz { archive } => {
            let url = format!("{base}{archive}");
            eprintln!("downloading {url}");
            let tarball = get(&url)?;
            let mut found: Vec<&str> = Vec::new();
            let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(&tarball[..]));
            let bad = |e: std::io::Error| anyhow::anyhow!("{url}: not a readable .tar.gz: {e}");
            for entry in tar.entries().map_err(bad)? {
                let mut entry = entry.map_err(bad)?;
                let path: PathBuf = entry.path().map_err(bad)?.into_owned();
                let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                let Some(e) = missing.iter().find(|e| e.file == name) else {
                    continue;
                };
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut entry, &mut bytes).map_err(bad)?;
                check(e, &bytes, &format!("{url} ({})", path.display()))?;
                save(e, &bytes)?;
                found.push(e.file);
            }
            let absent: Vec<&str> = missing
                .iter()
                .map(|e| e.file)
                .filter(|f| !found.contains(f))
                .collect();
            if !absent.is_empty() {
                bail!("{url} holds no {}; {}", absent.join(", "), by_hand());
            }
        }
    }
    println!(
        "{}: {} in {} ({})",
        set.name,
        set.files
            .iter()
            .map(|e| e.file)
            .collect::<Vec<_>>()
            .join(", "),
        dir.display(),
        set.about
    );
    Ok(())
}
