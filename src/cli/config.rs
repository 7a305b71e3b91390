//! TOML configuration files: `meshflow --config FILE COMMAND …` takes any option of any command
//! from a file, and options given on the command line win.
//!
//! Keys are the options' long names without the dashes (`steps = 4000`, `batch-size = 64`;
//! `batch_size` is accepted too). Top-level keys apply to every command that has that option,
//! so one file can describe a whole pipeline; a table named after a command applies to that
//! command only and overrides the top level (`[train-prior]`, `[impute]`, and for nested
//! commands `[denoise.train]`, with `[denoise]` for all of `denoise`'s commands):
//!
//! ```toml
//! data = "era5"            # every command with --data
//! var = "t"
//! regrid = "latlon:31x60"
//! seed = 1
//!
//! [train-prior]
//! out = "runs/prior"
//! steps = 4000
//!
//! [train-sampler]
//! prior = "runs/prior"
//! out = "runs/sampler"
//! task = "era5-imputation"
//! ```
//!
//! Values are strings, numbers, booleans (a `true` switch is given, `false` is left out) or
//! arrays (the option repeated, e.g. `model = ["icm", "ifm"]` for `denoise eval`). Paths are
//! relative to the working directory, as on the command line. Positional arguments (the file of
//! `meshflow info FILE`) stay on the command line. The file is applied by rewriting the
//! command line before clap parses it, so every value is checked exactly as a flag would be;
//! a key that no command (or, in a command's table, not that command) knows is an error that
//! names the file and the key.

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::CommandFactory;

use super::Cli;

/// The long name of the option that names a config file.
pub const CONFIG_FLAG: &str = "config";

/// Returns `argv` with the options of the `--config FILE` it names (if any) added for every
/// option not already given on the command line. `argv[0]` is the program name.
///
/// # Errors
/// The file cannot be read or is not TOML, a key is not an option of the command, a value has
/// the wrong kind (a table, a date), or a positional argument is set in the file.
pub fn expand_config_file(argv: Vec<OsString>) -> Result<Vec<OsString>> {
    let Some(path) = config_path(&argv) else {
        return Ok(argv);
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the config file {}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .with_context(|| format!("{} is not a valid TOML file", path.display()))?;
    expand_with_table(argv, &table, &path)
}

/// `--config FILE` or `--config=FILE` before a `--`, if any.
fn config_path(argv: &[OsString]) -> Option<PathBuf> {
    let long = format!("--{CONFIG_FLAG}");
    let mut it = argv.iter().skip(1);
    while let Some(a) = it.next() {
        let s = a.to_string_lossy();
        if s == "--" {
            return None;
        }
        if s == long {
            return it.next().map(PathBuf::from);
        }
        if let Some(v) = s.strip_prefix(&format!("{long}=")) {
            return Some(PathBuf::from(v));
        }
    }
    None
}

/// The subcommand path named on the command line (`["denoise", "train"]`), skipping the
/// top-level `--config FILE`.
fn subcommand_path(cmd: &clap::Command, argv: &[OsString]) -> Vec<String> {
    let mut path = Vec::new();
    let mut current = cmd;
    let mut it = argv.iter().skip(1).map(|a| a.to_string_lossy());
    while let Some(tok) = it.next() {
        if tok == "--" {
            break;
        }
        if tok == format!("--{CONFIG_FLAG}") {
            it.next();
            continue;
        }
        if tok.starts_with('-') {
            continue;
        }
        match current.find_subcommand(tok.as_ref()) {
            Some(sub) => {
                path.push(sub.get_name().to_string());
                if !sub.has_subcommands() {
                    break;
                }
                current = sub;
            }
            None => break,
        }
    }
    path
}

/// All long option names of every leaf command, for telling a misspelt top-level key from one
/// meant for another command.
fn all_long_options(cmd: &clap::Command, into: &mut BTreeSet<String>) {
    for a in cmd.get_arguments() {
        if let Some(l) = a.get_long() {
            into.insert(l.to_string());
        }
    }
    for s in cmd.get_subcommands() {
        all_long_options(s, into);
    }
}

/// Whether the option `arg` appears on the command line (long, `--long=`, or short form).
fn given_on_command_line(arg: &clap::Arg, argv: &[OsString]) -> bool {
    let long = arg.get_long().map(|l| format!("--{l}"));
    let short = arg.get_short().map(|c| format!("-{c}"));
    for a in argv.iter().skip(1) {
        let s = a.to_string_lossy();
        if s == "--" {
            break;
        }
        if let Some(l) = &long {
            if s == *l || s.starts_with(&format!("{l}=")) {
                return true;
            }
        }
        if let Some(sh) = &short {
            if s.starts_with(sh.as_str()) && !s.starts_with("--") {
                return true;
            }
        }
    }
    false
}

fn key_to_long(key: &str) -> String {
    key.replace('_', "-")
}

/// One scalar of the file as command-line text, or an error naming the key.
fn scalar_text(value: &toml::Value, key: &str, file: &Path) -> Result<String> {
    Ok(match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        other => bail!(
            "{}: `{key}` must be a string, number, boolean or array of those, not a {}",
            file.display(),
            other.type_str()
        ),
    })
}

/// The command-line words for one key of the file: `["--steps=400"]`, `["--json"]`, none for
/// a `false` switch, one `--model=…` per array element.
fn words_for(arg: &clap::Arg, key: &str, value: &toml::Value, file: &Path) -> Result<Vec<String>> {
    let long = arg.get_long().expect("only long options are looked up");
    let is_switch = matches!(
        arg.get_action(),
        clap::ArgAction::SetTrue | clap::ArgAction::SetFalse
    );
    if is_switch {
        return match value {
            toml::Value::Boolean(true) => Ok(vec![format!("--{long}")]),
            toml::Value::Boolean(false) => Ok(vec![]),
            _ => bail!(
                "{}: `{key}` is a switch; write `{key} = true` or `{key} = false`",
                file.display()
            ),
        };
    }
    let values = match value {
        toml::Value::Array(items) => items.iter().collect(),
        v => vec![v],
    };
    values
        .into_iter()
        .map(|v| Ok(format!("--{long}={}", scalar_text(v, key, file)?)))
        .collect()
}

/// Applies `table` (a parsed config file at `file`) to `argv`.
fn expand_with_table(
    mut argv: Vec<OsString>,
    table: &toml::Table,
    file: &Path,
) -> Result<Vec<OsString>> {
    let root = Cli::command();
    let path = subcommand_path(&root, &argv);
    if path.is_empty() {
        return Ok(argv); // no command: clap says so
    }

    // Which tables apply, least specific first: the top level, then `[cmd]`, `[cmd.sub]`.
    let mut layers: Vec<(&toml::Table, Vec<String>)> = vec![(table, vec![])];
    let mut current = table;
    for (depth, name) in path.iter().enumerate() {
        match current.get(name) {
            Some(toml::Value::Table(t)) => {
                layers.push((t, path[..=depth].to_vec()));
                current = t;
            }
            Some(_) => bail!(
                "{}: `{name}` names a command; use a table `[{}]` for its options",
                file.display(),
                path[..=depth].join(".")
            ),
            None => break,
        }
    }
    check_sections(&root, table, file, "")?;

    // The leaf command whose options are being set.
    let mut leaf = &root;
    for name in &path {
        leaf = leaf.find_subcommand(name).expect("path was found above");
    }

    // Later (more specific) layers override earlier ones.
    let mut chosen: Vec<(&clap::Arg, &toml::Value)> = Vec::new();
    for (t, section) in &layers {
        // Keys of the top level or of a command group's table (`[denoise]`) may be meant for
        // another command of that group; keys of the leaf command's own table may not.
        let mut scope = &root;
        for name in section {
            scope = scope.find_subcommand(name).expect("path was found above");
        }
        let mut known = BTreeSet::new();
        all_long_options(scope, &mut known);
        let leaf_table = section.len() == path.len();
        for (key, value) in t.iter() {
            if value.is_table() {
                continue; // a command's section, checked by `check_sections`
            }
            let long = key_to_long(key);
            if long == CONFIG_FLAG {
                bail!(
                    "{}: a config file cannot name another config file",
                    file.display()
                );
            }
            let Some(arg) = leaf
                .get_arguments()
                .find(|a| a.get_long() == Some(long.as_str()) && !a.is_hide_set())
            else {
                if !leaf_table && known.contains(&long) {
                    continue; // an option of another command, in a shared table
                }
                let this = if path.is_empty() {
                    "meshflow".to_string()
                } else {
                    format!("meshflow {}", path.join(" "))
                };
                let options: Vec<String> = leaf
                    .get_arguments()
                    .filter_map(|a| a.get_long())
                    .filter(|l| *l != CONFIG_FLAG && *l != "help")
                    .map(str::to_string)
                    .collect();
                let positional = leaf
                    .get_arguments()
                    .any(|a| a.is_positional() && a.get_id().as_str() == key.as_str());
                if positional {
                    bail!(
                        "{}: `{key}` is a positional argument of `{this}`; give it on the command \
                         line",
                        file.display()
                    );
                }
                bail!(
                    "{}: `{key}` is not an option of `{this}` (its options: {})",
                    file.display(),
                    options.join(", ")
                );
            };
            match chosen.iter_mut().find(|(a, _)| a.get_id() == arg.get_id()) {
                Some(slot) => slot.1 = value,
                None => chosen.push((arg, value)),
            }
        }
    }

    // Insert before a `--` terminator, if there is one.
    let at = argv
        .iter()
        .position(|a| a == OsStr::new("--"))
        .unwrap_or(argv.len());
    let mut extra = Vec::new();
    for (arg, value) in chosen {
        if given_on_command_line(arg, &argv) {
            continue;
        }
        let long = arg.get_long().expect("looked up by its long name");
        extra.extend(
            words_for(arg, long, value, file)?
                .into_iter()
                .map(OsString::from),
        );
    }
    argv.splice(at..at, extra);
    Ok(argv)
}

/// Every table in the file must name a command (or, inside a command's table, one of its
/// subcommands).
fn check_sections(
    cmd: &clap::Command,
    table: &toml::Table,
    file: &Path,
    prefix: &str,
) -> Result<()> {
    for (key, value) in table {
        let toml::Value::Table(t) = value else {
            continue;
        };
        let name = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match cmd.find_subcommand(key) {
            Some(sub) => check_sections(sub, t, file, &name)?,
            None => {
                let commands: Vec<&str> = cmd.get_subcommands().map(|s| s.get_name()).collect();
                if commands.is_empty() {
                    bail!(
                        "{}: `[{name}]`: `{key}` is an option, not a table",
                        file.display()
                    );
                }
                bail!(
                    "{}: `[{name}]` is not a command (tables are named after commands: {})",
                    file.display(),
                    commands.join(", ")
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(words: &[&str]) -> Vec<OsString> {
        std::iter::once("meshflow")
            .chain(words.iter().copied())
            .map(OsString::from)
            .collect()
    }

    fn expand(words: &[&str], toml_text: &str) -> Result<Vec<String>> {
        let table: toml::Table = toml_text.parse().unwrap();
        let out = expand_with_table(argv(words), &table, Path::new("test.toml"))?;
        Ok(out
            .into_iter()
            .skip(1)
            .map(|a| a.into_string().unwrap())
            .collect())
    }

    #[test]
    fn the_command_line_wins_and_sections_override_the_top_level() {
        let text = r#"
            data = "era5"
            seed = 1
            steps = 10
            [train-prior]
            steps = 4000
            batch_size = 32
            quiet = true
            baselines = true  # not an option of train-prior, but of denoise eval
        "#;
        let err = expand(&["train-prior", "--out", "p"], text).unwrap_err();
        assert!(
            err.to_string()
                .contains("`baselines` is not an option of `meshflow train-prior`"),
            "{err}"
        );
        let text = text.replace("baselines = true", "");
        let out = expand(&["train-prior", "--out", "p", "--seed=7"], &text).unwrap();
        assert_eq!(
            out,
            [
                "train-prior",
                "--out",
                "p",
                "--seed=7",
                "--data=era5",
                "--steps=4000",
                "--batch-size=32",
                "--quiet"
            ]
        );
        // The parsed command sees the file's values and the command line's seed.
        let cli = <Cli as clap::Parser>::try_parse_from(
            std::iter::once("meshflow".to_string()).chain(out),
        )
        .unwrap();
        let super::super::Command::TrainPrior(a) = cli.command else {
            panic!("wrong command");
        };
        assert_eq!(a.common.seed, 7);
        assert_eq!(a.common.steps, Some(4000));
        assert_eq!(a.common.batch_size, Some(32));
        assert!(a.common.quiet);
        assert_eq!(a.selection.data.as_deref(), Some("era5"));
    }

    #[test]
    fn nested_commands_arrays_and_false_switches() {
        let text = r#"
            quiet = false
            [denoise]
            seed = 3
            [denoise.eval]
            model = ["icm", "ifm"]
            baselines = true
        "#;
        let out = expand(&["denoise", "eval", "--data", "era5"], text).unwrap();
        assert_eq!(
            out,
            [
                "denoise",
                "eval",
                "--data",
                "era5",
                "--seed=3",
                "--baselines",
                "--model=icm",
                "--model=ifm"
            ]
        );
        // `denoise apply` has no --baselines: the `[denoise.eval]` table does not apply to it.
        let out = expand(&["denoise", "apply", "--model", "m"], text).unwrap();
        assert_eq!(out, ["denoise", "apply", "--model", "m"]);
    }

    #[test]
    fn misspelt_keys_tables_and_values_are_named() {
        let e = expand(&["train-prior"], "stpes = 3")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("test.toml: `stpes` is not an option of `meshflow train-prior`"),
            "{e}"
        );
        assert!(e.contains("steps"), "lists the options: {e}");
        let e = expand(&["train-prior"], "[train-prio]\nsteps = 3")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`[train-prio]` is not a command"), "{e}");
        let e = expand(&["train-prior"], "quiet = 1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`quiet` is a switch"), "{e}");
        let e = expand(&["info", "bunny"], "source = \"x\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("positional"), "{e}");
        let e = expand(&["train-prior"], "config = \"other.toml\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot name another config"), "{e}");
        let e = expand(&["train-prior"], "[train-prior]\nsteps = { a = 1 }")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("is not a command") || e.contains("not a table"),
            "{e}"
        );
    }

    #[test]
    fn without_a_config_flag_the_command_line_is_unchanged() {
        let a = argv(&["info", "bunny", "--json"]);
        assert_eq!(expand_config_file(a.clone()).unwrap(), a);
        // `--config` after `--` is not ours.
        let a = argv(&["info", "--", "--config", "x.toml"]);
        assert_eq!(config_path(&a), None);
        assert_eq!(
            config_path(&argv(&["--config=a.toml", "info"])),
            Some(PathBuf::from("a.toml"))
        );
    }
}
