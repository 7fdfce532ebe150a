//! `cairn launch FILE [name:=value …]`: runs a ROS 2 YAML launch file
//! without ROS — the same file `ros2 launch` runs on a ROS machine.
//!
//! The supported subset of the launch YAML format (anything else is an error
//! that names the file and line):
//! - `arg` (`name`, `default`, `description`): a launch argument, set on the
//!   command line as `name:=value`, by an `include`, or from its default;
//! - `let` (`name`, `value`): a launch configuration variable;
//! - `executable` (`cmd`, `args`, `name`, `respawn`, `respawn_delay`,
//!   `sigterm_timeout`, `sigkill_timeout`, `env: [{name, value}]`, `output`):
//!   a process. `cmd` and `args` are split like a shell would split them
//!   (quotes, no expansion); a command named `cairn` runs this very binary;
//!   `output` is accepted and ignored (everything goes to the screen);
//! - `group` (`scoped`, `children`): a scope — variables set inside do not
//!   leak out unless `scoped: false`;
//! - `include` (`file`, `arg: [{name, value}]`, or the bare path): another
//!   launch file, which sees the includer's variables plus its `arg`s, and
//!   whose own settings do not leak back;
//! - substitutions `$(var NAME)`, `$(env NAME [DEFAULT])` and `$(dirname)`
//!   (the directory of the file being read), nestable.
//!
//! [`load`] turns a file into [`ProcessSpec`]s; [`supervise::run`] starts
//! them, prefixes every output line with the process name, restarts those
//! with `respawn`, and forwards SIGINT/SIGTERM (SIGINT, then SIGTERM after
//! `sigterm_timeout`, then SIGKILL after `sigkill_timeout`, as `ros2 launch`
//! does).

mod entities;
mod substitute;
pub mod supervise;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;

use entities::{Entity, LaunchFile};
pub use supervise::ProcessSpec;

/// How deep includes may nest (a cycle hits this).
const MAX_INCLUDE_DEPTH: usize = 16;

/// Arguments of `cairn launch`.
#[derive(Debug, Args)]
pub struct LaunchArgs {
    /// The launch file (ROS 2 YAML launch format; see `cairn launch --help`).
    #[arg(value_name = "FILE.launch.yaml")]
    file: PathBuf,
    /// Launch arguments, `name:=value`.
    #[arg(value_name = "NAME:=VALUE")]
    args: Vec<String>,
    /// Print the processes the file resolves to, and exit without running them.
    #[arg(long)]
    print: bool,
}

/// Runs `cairn launch`.
pub fn run(args: &LaunchArgs) -> Result<String> {
    let overrides = parse_overrides(&args.args)?;
    let specs = load(&args.file, &overrides)?;
    if args.print {
        return Ok(specs.iter().map(|spec| format!("{spec}\n")).collect());
    }
    let report = supervise::run(specs, supervise::Options::default())?;
    supervise::check(&report)?;
    Ok(report.to_string())
}

/// Parses `name:=value` command-line launch arguments.
pub fn parse_overrides(args: &[String]) -> Result<BTreeMap<String, String>> {
    args.iter()
        .map(|arg| match arg.split_once(":=") {
            Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
            _ => bail!("launch arguments are written name:=value, got `{arg}`"),
        })
        .collect()
}

/// Reads a launch file and resolves it, with `args` as its launch
/// arguments, into the processes it starts, in file order.
pub fn load(path: &Path, args: &BTreeMap<String, String>) -> Result<Vec<ProcessSpec>> {
    let mut scope = Scope { vars: args.clone(), args: args.clone() };
    let mut specs = Vec::new();
    include(path, &mut scope, &mut specs, 0)?;
    Ok(supervise::unique_names(specs))
}

/// Launch configurations in effect, and the arguments given to the file
/// being read (an `arg` takes its value from these before its default).
#[derive(Debug, Clone)]
struct Scope {
    vars: BTreeMap<String, String>,
    args: BTreeMap<String, String>,
}

/// One file being read: where it is (for `$(dirname)` and error lines).
struct Source {
    path: PathBuf,
    text: String,
}

impl Source {
    fn dirname(&self) -> String {
        self.path.parent().map(|p| p.display().to_string()).unwrap_or_else(|| ".".into())
    }

    /// "FILE:LINE" of the first line containing `needle` (for errors found
    /// after parsing, where serde's positions are gone).
    fn locate(&self, needle: &str) -> String {
        let line = self
            .text
            .lines()
            .position(|line| !line.trim_start().starts_with('#') && line.contains(needle))
            .map(|i| i + 1);
        match line {
            Some(line) => format!("{}:{line}", self.path.display()),
            None => self.path.display().to_string(),
        }
    }

    fn subst(&self, value: &str, scope: &Scope) -> Result<String> {
        substitute::expand(value, &scope.vars, &self.dirname())
            .with_context(|| format!("{}: in `{value}`", self.locate(value)))
    }
}

fn include(path: &Path, scope: &mut Scope, specs: &mut Vec<ProcessSpec>, depth: usize) -> Result<()> {
    if depth > MAX_INCLUDE_DEPTH {
        bail!("{}: includes nest deeper than {MAX_INCLUDE_DEPTH} (a file including itself?)", path.display());
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("reading launch file {}", path.display()))?;
    let file: LaunchFile = serde_norway::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let source = Source { path: path.to_path_buf(), text };
    for entity in &file.launch {
        visit(entity, &source, scope, specs, depth)?;
    }
    Ok(())
}

fn visit(
    entity: &Entity,
    source: &Source,
    scope: &mut Scope,
    specs: &mut Vec<ProcessSpec>,
    depth: usize,
) -> Result<()> {
    match entity {
        Entity::Arg(arg) => {
            let value = match (scope.args.get(&arg.name), &arg.default) {
                (Some(given), _) => given.clone(),
                (None, Some(default)) => source.subst(default, scope)?,
                (None, None) => bail!(
                    "{}: launch argument `{}` has no default: pass {}:=VALUE",
                    source.locate(&arg.name),
                    arg.name,
                    arg.name
                ),
            };
            scope.vars.insert(arg.name.clone(), value);
        }
        Entity::Let(set) => {
            let value = source.subst(&set.value, scope)?;
            scope.vars.insert(set.name.clone(), value);
        }
        Entity::Executable(exec) => specs.push(exec.resolve(source, scope)?),
        Entity::Group(group) => {
            let scoped = match &group.scoped {
                Some(flag) => flag.resolve(source, scope)?,
                None => true,
            };
            let mut inner = scope.clone();
            for child in &group.children {
                visit(child, source, &mut inner, specs, depth)?;
            }
            if !scoped {
                *scope = inner;
            }
        }
        Entity::Include(inc) => {
            let file = source.subst(inc.file(), scope)?;
            let mut path = PathBuf::from(&file);
            if path.is_relative() {
                path = source.path.parent().unwrap_or(Path::new(".")).join(path);
            }
            let mut args = BTreeMap::new();
            for arg in inc.args() {
                args.insert(arg.name.clone(), source.subst(&arg.value, scope)?);
            }
            let mut inner = Scope { vars: scope.vars.clone(), args: args.clone() };
            inner.vars.extend(args);
            include(&path, &mut inner, specs, depth + 1)
                .with_context(|| format!("{}: included here", source.locate(inc.file())))?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("cairn-launch-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn args_lets_groups_and_includes_resolve() {
        let dir = temp_dir("resolve");
        write(
            &dir,
            "inner.launch.yaml",
            "launch:\n- arg: {name: who}\n- executable:\n    cmd: echo inner $(var who) $(var outer)\n    name: inner\n",
        );
        let outer = write(
            &dir,
            "outer.launch.yaml",
            "launch:\n- arg:\n    name: rate\n    default: '1.0'\n- let: {name: outer, value: 'o-$(var rate)'}\n\
             - group:\n    children:\n    - let: {name: outer, value: hidden}\n\
             - executable:\n    cmd: sh -c 'exit 0'\n    args: --rate $(var rate)\n    respawn: 'true'\n    respawn_delay: 0.5\n    env:\n    - {name: A, value: $(env CAIRN_LAUNCH_TEST_UNSET fallback)}\n\
             - include:\n    file: $(dirname)/inner.launch.yaml\n    arg:\n    - {name: who, value: me}\n",
        );
        let overrides = parse_overrides(&["rate:=2".into()]).unwrap();
        let specs = load(&outer, &overrides).unwrap();
        assert_eq!(specs.len(), 2);
        assert_eq!(specs[0].argv, ["sh", "-c", "exit 0", "--rate", "2"]);
        assert!(specs[0].respawn);
        assert_eq!(specs[0].respawn_delay_s, 0.5);
        assert_eq!(specs[0].env, [("A".to_string(), "fallback".to_string())]);
        assert_eq!(specs[0].name, "sh");
        // The scoped group's `let` did not leak; the include saw its arg.
        assert_eq!(specs[1].argv, ["echo", "inner", "me", "o-2"]);
        assert_eq!(specs[1].name, "inner");
    }

    #[test]
    fn unsupported_entity_names_the_line() {
        let dir = temp_dir("unsupported");
        let path = write(&dir, "bad.launch.yaml", "launch:\n- arg: {name: a, default: x}\n- node:\n    pkg: demo\n");
        let err = format!("{:#}", load(&path, &BTreeMap::new()).unwrap_err());
        assert!(err.contains("line 3"), "{err}");
        assert!(err.contains("node"), "{err}");
    }

    #[test]
    fn unsupported_attribute_names_the_line() {
        let dir = temp_dir("attribute");
        let path = write(&dir, "bad.launch.yaml", "launch:\n- executable:\n    cmd: ls\n    launch-prefix: gdb\n");
        let err = format!("{:#}", load(&path, &BTreeMap::new()).unwrap_err());
        assert!(err.contains("line 4") && err.contains("launch-prefix"), "{err}");
    }

    #[test]
    fn missing_argument_and_unknown_substitution_are_clear() {
        let dir = temp_dir("missing");
        let path = write(&dir, "a.launch.yaml", "launch:\n- arg: {name: bag}\n");
        let err = format!("{:#}", load(&path, &BTreeMap::new()).unwrap_err());
        assert!(err.contains("bag:=VALUE") && err.contains(":2"), "{err}");
        let path = write(&dir, "b.launch.yaml", "launch:\n- executable:\n    cmd: ls $(find-pkg-share x)\n");
        let err = format!("{:#}", load(&path, &BTreeMap::new()).unwrap_err());
        assert!(err.contains("find-pkg-share") && err.contains(":3"), "{err}");
    }

    #[test]
    fn self_include_is_an_error_not_a_hang() {
        let dir = temp_dir("cycle");
        let path = write(&dir, "self.launch.yaml", "launch:\n- include: $(dirname)/self.launch.yaml\n");
        let err = format!("{:#}", load(&path, &BTreeMap::new()).unwrap_err());
        assert!(err.contains("nest deeper"), "{err}");
    }

    #[test]
    fn overrides_must_be_name_value() {
        assert!(parse_overrides(&["rate=2".into()]).is_err());
        assert!(parse_overrides(&[":=2".into()]).is_err());
        assert_eq!(parse_overrides(&["a:=b:=c".into()]).unwrap()["a"], "b:=c");
    }
}
