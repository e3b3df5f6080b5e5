//! The README's configuration table, rendered from the parser that flattens
//! [`super::RawConfig`] (`multiftpd`'s): key, variable, flag, default and help all come from
//! the one definition, so the table cannot drift from the code (a test compares the two).

use clap::{Arg, Args, Command};

use super::RawConfig;

/// The line before the generated table in the README.
pub const BEGIN: &str =
    "<!-- settings table: made by `multiftpd settings-table`, checked by a test -->";
/// The line after it.
pub const END: &str = "<!-- end of settings table -->";

/// The markdown table of every option of `command` that has a long flag: file key (if the
/// setting has one), variable, flag, default and meaning.
pub fn markdown_table(command: &Command) -> String {
    let keys = file_keys();
    let mut table =
        String::from("| key | env | flag | default | meaning |\n| --- | --- | --- | --- | --- |\n");
    for arg in command.get_arguments().filter(|a| a.get_long().is_some() && !a.is_hide_set()) {
        let id = arg.get_id().as_str();
        let Some(long) = arg.get_long() else { continue };
        if matches!(long, "help" | "version") {
            continue;
        }
        let key = if keys.iter().any(|k| k == id) { code(id) } else { String::new() };
        let env = arg.get_env().map(|e| code(&e.to_string_lossy())).unwrap_or_default();
        let flag = match arg.get_short() {
            Some(short) => format!("`-{short}`, `--{long}`"),
            None => format!("`--{long}`"),
        };
        let (help, default) = help_and_default(arg);
        table.push_str(&format!("| {key} | {env} | {flag} | {default} | {help} |\n"));
    }
    table
}

/// The file keys: every field of [`RawConfig`] (the data root and database are `#[arg(skip)]`
/// there, their flags being `ftpadm`'s too).
fn file_keys() -> Vec<String> {
    let command = RawConfig::augment_args(Command::new("keys"));
    let mut keys: Vec<String> =
        command.get_arguments().map(|a| a.get_id().as_str().to_string()).collect();
    keys.extend(super::layer::DATA_KEYS.map(String::from));
    keys
}

/// The help text (with the choices of an enum) and the default: clap's default value, or the
/// `[default: ...]` a help text ends with when the default is not clap's to fill in.
fn help_and_default(arg: &Arg) -> (String, String) {
    let mut help = arg.get_help().map(ToString::to_string).unwrap_or_default().replace('\n', " ");
    let mut default = match arg.get_default_values() {
        [] => "off".to_string(),
        values => values.iter().map(|v| code(&v.to_string_lossy())).collect::<Vec<_>>().join(", "),
    };
    if let Some(start) = help.find(" [default: ") {
        default = code(help[start + 11..].trim_end_matches(']'));
        help.truncate(start);
    }
    let choices: Vec<String> = if arg.get_value_names().is_some_and(|n| n == ["BOOL"]) {
        Vec::new()
    } else {
        arg.get_possible_values()
            .iter()
            .filter(|v| !v.is_hide_set())
            .map(|v| code(v.get_name()))
            .collect()
    };
    if !choices.is_empty() {
        help = format!("{help}: {}", choices.join(", "));
    }
    // Markdown: a bar would end the cell, and `<user>` would be taken for an HTML tag.
    (help.replace('|', "\\|").replace('<', "&lt;"), default)
}

fn code(text: &str) -> String {
    format!("`{text}`")
}
