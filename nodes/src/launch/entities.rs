//! The launch YAML entities cairn supports, as serde types: unknown entities
//! and attributes are rejected by serde with the file's line and column.

use anyhow::{Result, bail};
use serde::Deserialize;

use super::supervise::ProcessSpec;
use super::{Scope, Source};

/// A launch file: `launch:` and a list of entities.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LaunchFile {
    // Entities are one-key maps (`- executable: {…}`), not YAML tags.
    #[serde(with = "serde_norway::with::singleton_map_recursive")]
    pub launch: Vec<Entity>,
}

/// One entity of a launch description.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum Entity {
    Arg(Arg),
    Let(Let),
    Executable(Executable),
    Group(Group),
    Include(Include),
}

/// `arg`: a launch argument.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Arg {
    pub name: String,
    pub default: Option<String>,
    #[allow(dead_code)] // read by `ros2 launch --show-args`; accepted here
    pub description: Option<String>,
}

/// `let`: a launch configuration variable.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Let {
    pub name: String,
    pub value: String,
}

/// A name/value pair (`env`, include `arg`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NameValue {
    pub name: String,
    pub value: String,
}

/// A boolean attribute: YAML `true`, or a string (after substitution)
/// `true`/`false` in any case.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum Flag {
    Bool(bool),
    Text(String),
}

impl Flag {
    pub fn resolve(&self, source: &Source, scope: &Scope) -> Result<bool> {
        match self {
            Flag::Bool(value) => Ok(*value),
            Flag::Text(text) => match source.subst(text, scope)?.to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                other => bail!("{}: expected true or false, got `{other}`", source.locate(text)),
            },
        }
    }
}

/// A number attribute: YAML number, or a string (after substitution).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum Number {
    Value(f64),
    Text(String),
}

impl Number {
    fn resolve(&self, source: &Source, scope: &Scope) -> Result<f64> {
        let value = match self {
            Number::Value(value) => *value,
            Number::Text(text) => {
                let resolved = source.subst(text, scope)?;
                match resolved.trim().parse::<f64>() {
                    Ok(value) => value,
                    Err(_) => bail!("{}: expected a number of seconds, got `{resolved}`", source.locate(text)),
                }
            }
        };
        if !(value.is_finite() && value >= 0.0) {
            bail!("{}: a time in seconds must be finite and ≥ 0, got {value}", source.path.display());
        }
        Ok(value)
    }
}

/// `executable`: a process.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Executable {
    cmd: String,
    args: Option<String>,
    name: Option<String>,
    respawn: Option<Flag>,
    respawn_delay: Option<Number>,
    sigterm_timeout: Option<Number>,
    sigkill_timeout: Option<Number>,
    #[serde(default)]
    env: Vec<NameValue>,
    #[allow(dead_code)] // cairn always prints to the screen, prefixed
    output: Option<String>,
}

impl Executable {
    pub fn resolve(&self, source: &Source, scope: &Scope) -> Result<ProcessSpec> {
        let mut argv = split(&source.subst(&self.cmd, scope)?, source, &self.cmd)?;
        if let Some(args) = &self.args {
            argv.extend(split(&source.subst(args, scope)?, source, args)?);
        }
        let Some(program) = argv.first() else {
            bail!("{}: `cmd` is empty", source.locate("cmd"));
        };
        let name = match &self.name {
            Some(name) => source.subst(name, scope)?,
            None => program.rsplit('/').next().unwrap_or(program).to_owned(),
        };
        let respawn = match &self.respawn {
            Some(flag) => flag.resolve(source, scope)?,
            None => false,
        };
        let seconds = |value: &Option<Number>, default: f64| match value {
            Some(number) => number.resolve(source, scope),
            None => Ok(default),
        };
        let env = self
            .env
            .iter()
            .map(|pair| Ok((pair.name.clone(), source.subst(&pair.value, scope)?)))
            .collect::<Result<_>>()?;
        Ok(ProcessSpec {
            name,
            argv,
            env,
            respawn,
            respawn_delay_s: seconds(&self.respawn_delay, 0.0)?,
            sigterm_timeout_s: seconds(&self.sigterm_timeout, 5.0)?,
            sigkill_timeout_s: seconds(&self.sigkill_timeout, 5.0)?,
        })
    }
}

fn split(text: &str, source: &Source, raw: &str) -> Result<Vec<String>> {
    match shlex::split(text) {
        Some(words) => Ok(words),
        None => bail!("{}: unbalanced quotes in `{text}`", source.locate(raw)),
    }
}

/// `group`: a scope over child entities.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Group {
    pub scoped: Option<Flag>,
    #[serde(default)]
    pub children: Vec<Entity>,
}

/// `include`: another launch file, bare or with arguments.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum Include {
    Path(String),
    Full(IncludeFull),
}

/// `include` with `file` and `arg`s.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct IncludeFull {
    file: String,
    #[serde(default)]
    arg: Vec<NameValue>,
}

impl Include {
    pub fn file(&self) -> &str {
        match self {
            Include::Path(path) => path,
            Include::Full(full) => &full.file,
        }
    }

    pub fn args(&self) -> &[NameValue] {
        match self {
            Include::Path(_) => &[],
            Include::Full(full) => &full.arg,
        }
    }
}
