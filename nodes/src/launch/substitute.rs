//! Launch substitutions: `$(var NAME)`, `$(env NAME [DEFAULT])`,
//! `$(dirname)`, nestable (`$(var $(env WHICH))`).

use std::collections::BTreeMap;

use anyhow::{Result, bail};

/// Expands every substitution in `text`.
pub(super) fn expand(text: &str, vars: &BTreeMap<String, String>, dirname: &str) -> Result<String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("$(") {
        out.push_str(&rest[..start]);
        let body_start = start + 2;
        let Some(len) = closing_paren(&rest[body_start..]) else {
            bail!("`$(` without its closing `)`");
        };
        let body = expand(&rest[body_start..body_start + len], vars, dirname)?;
        out.push_str(&evaluate(&body, vars, dirname)?);
        rest = &rest[body_start + len + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Byte length of the text before the `)` that closes an opened `$(`.
fn closing_paren(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => return Some(i),
            ')' => depth -= 1,
            _ => {}
        }
    }
    None
}

fn evaluate(body: &str, vars: &BTreeMap<String, String>, dirname: &str) -> Result<String> {
    let words = shlex::split(body).unwrap_or_default();
    match words.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["var", name] => match vars.get(*name) {
            Some(value) => Ok(value.clone()),
            None => bail!("launch configuration `{name}` is not set (declare it with `arg` or `let` first)"),
        },
        ["env", name] => match std::env::var(name) {
            Ok(value) => Ok(value),
            Err(_) => bail!("environment variable `{name}` is not set (give a default: $(env {name} DEFAULT))"),
        },
        ["env", name, default] => Ok(std::env::var(name).unwrap_or_else(|_| (*default).to_owned())),
        ["dirname"] => Ok(dirname.to_owned()),
        _ => bail!("unsupported substitution `$({body})` (supported: var, env, dirname)"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)
mod tests {
    use super::*;

    fn vars() -> BTreeMap<String, String> {
        [("a".to_string(), "A".to_string()), ("which".to_string(), "a".to_string())].into()
    }

    #[test]
    fn plain_text_is_untouched() {
        assert_eq!(expand("no subs (here)", &vars(), "/d").unwrap(), "no subs (here)");
    }

    #[test]
    fn var_env_dirname_and_nesting() {
        assert_eq!(expand("x$(var a)y", &vars(), "/d").unwrap(), "xAy");
        assert_eq!(expand("$(dirname)/f.yaml", &vars(), "/d").unwrap(), "/d/f.yaml");
        assert_eq!(expand("$(var $(var which))", &vars(), "/d").unwrap(), "A");
        assert_eq!(expand("$(env CAIRN_SURELY_UNSET_VAR 'de fault')", &vars(), "/d").unwrap(), "de fault");
        assert_eq!(expand("$(env CAIRN_SURELY_UNSET_VAR '')", &vars(), "/d").unwrap(), "");
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let err = expand("$(var nope)", &vars(), "/d").unwrap_err().to_string();
        assert!(err.contains("`nope` is not set"), "{err}");
        let err = expand("$(env CAIRN_SURELY_UNSET_VAR)", &vars(), "/d").unwrap_err().to_string();
        assert!(err.contains("DEFAULT"), "{err}");
        assert!(expand("$(var a", &vars(), "/d").unwrap_err().to_string().contains("closing"));
        assert!(expand("$(command ls)", &vars(), "/d").unwrap_err().to_string().contains("unsupported"));
    }
}
