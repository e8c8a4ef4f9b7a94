//! Which tables a piece of SQL writes: a small tokenizer and a parser of
//! statement heads.
//!
//! It reads only as much SQL as it needs to name a write's target: the
//! table after `INSERT INTO`, `REPLACE INTO`, `UPDATE`, `DELETE FROM`,
//! `TRUNCATE` or `MERGE INTO` at the start of a statement, also inside a
//! leading `WITH` (PostgreSQL's data-modifying CTEs). `FOR UPDATE`,
//! `ON CONFLICT .. DO UPDATE` and `ON DUPLICATE KEY UPDATE` are not at a
//! statement's start, so they are not writes. String literals, quoted
//! identifiers and comments are read as single tokens, so a keyword inside
//! them is never taken for one. DDL (`CREATE`, `ALTER`, `DROP`, ...) is
//! skipped whole, trigger and procedure bodies included: what a trigger or
//! procedure writes when it runs is not visible in the statement that runs it.

use sea_orm::DbBackend;

/// What a statement does to its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WriteKind {
    Insert,
    Update,
    Delete,
    Truncate,
}

impl WriteKind {
    pub(crate) fn keyword(self) -> &'static str {
        match self {
            WriteKind::Insert => "INSERT",
            WriteKind::Update => "UPDATE",
            WriteKind::Delete => "DELETE",
            WriteKind::Truncate => "TRUNCATE",
        }
    }
}

/// One part of a possibly schema-qualified name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Part {
    pub(crate) text: String,
    /// Quoted parts compare exactly, unquoted ones ignoring ASCII case.
    pub(crate) quoted: bool,
}

/// A table a statement writes, as the statement names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TableName {
    pub(crate) parts: Vec<Part>,
}

impl TableName {
    /// Whether this is the table revy names `content_type` (`table` or
    /// `schema.table`). A name without a schema matches either form.
    pub(crate) fn matches(&self, content_type: &str) -> bool {
        let Some(last) = self.parts.last() else {
            return false;
        };
        let eq = |a: &str, b: &str, quoted: bool| {
            if quoted {
                a == b
            } else {
                a.eq_ignore_ascii_case(b)
            }
        };
        if self.parts.len() == 1 {
            if eq(&last.text, content_type, last.quoted) {
                return true;
            }
            return content_type
                .rsplit_once('.')
                .is_some_and(|(_, table)| eq(&last.text, table, last.quoted));
        }
        let quoted = self.parts.iter().all(|p| p.quoted);
        let full: Vec<&str> = self.parts.iter().map(|p| p.text.as_str()).collect();
        eq(&full.join("."), content_type, quoted) || eq(&last.text, content_type, last.quoted)
    }
}

/// One write the SQL makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Write {
    pub(crate) kind: WriteKind,
    pub(crate) table: TableName,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// An unquoted word: keyword or identifier.
    Word(String),
    /// A quoted identifier, unescaped.
    Quoted(String),
    Punct(char),
    /// Anything else: literals, numbers, operators, parameters.
    Other,
}

impl Token {
    fn is_kw(&self, kw: &str) -> bool {
        matches!(self, Token::Word(w) if w.eq_ignore_ascii_case(kw))
    }
}

/// Words that cannot be a target table's alias in the heads we read.
const STOP_WORDS: &[&str] = &[
    "SET",
    "FROM",
    "WHERE",
    "USING",
    "JOIN",
    "INNER",
    "LEFT",
    "RIGHT",
    "CROSS",
    "NATURAL",
    "ON",
    "VALUES",
    "SELECT",
    "DEFAULT",
    "RETURNING",
    "OUTPUT",
    "ORDER",
    "LIMIT",
    "PARTITION",
    "AS",
    "STRAIGHT_JOIN",
    "RESTART",
    "CONTINUE",
    "CASCADE",
    "RESTRICT",
    "IDENTITY",
];

/// The tables `sql` writes, in order, one entry per write.
pub(crate) fn written_tables(sql: &str, backend: DbBackend) -> Vec<Write> {
    if !might_write(sql) {
        return Vec::new();
    }
    let tokens = tokenize(sql, backend);
    let mut writes = Vec::new();
    for statement in split_statements(&tokens) {
        parse_statement(statement, &mut writes);
    }
    writes
}

/// A cheap first look: SQL that holds none of the write keywords anywhere
/// (most reads) is not tokenized.
fn might_write(sql: &str) -> bool {
    const WORDS: [&[u8]; 6] = [
        b"insert",
        b"replace",
        b"update",
        b"delete",
        b"truncate",
        b"merge",
    ];
    let bytes = sql.as_bytes();
    (0..bytes.len()).any(|i| {
        WORDS.iter().any(|word| {
            bytes
                .get(i..i + word.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(word))
        })
    })
}

fn tokenize(sql: &str, backend: DbBackend) -> Vec<Token> {
    let mysql = backend == DbBackend::MySql;
    let chars: Vec<char> = sql.chars().collect();
    let at = |i: usize| chars.get(i).copied();
    let mut tokens = Vec::new();
    let mut i = 0;
    while let Some(c) = at(i) {
        match c {
            c if c.is_whitespace() => i += 1,
            '-' if at(i + 1) == Some('-') => i = skip_line(&chars, i),
            '#' if mysql => i = skip_line(&chars, i),
            '/' if at(i + 1) == Some('*') => i = skip_block_comment(&chars, i, !mysql),
            '\'' => {
                i = skip_string(&chars, i, '\'', mysql);
                tokens.push(Token::Other);
            }
            '"' if mysql => {
                i = skip_string(&chars, i, '"', true);
                tokens.push(Token::Other);
            }
            '"' | '`' => {
                let (text, next) = quoted_ident(&chars, i, c);
                tokens.push(Token::Quoted(text));
                i = next;
            }
            '[' if backend == DbBackend::Sqlite => {
                let (text, next) = quoted_ident(&chars, i, ']');
                tokens.push(Token::Quoted(text));
                i = next;
            }
            '$' if !mysql => {
                i = skip_dollar(&chars, i);
                tokens.push(Token::Other);
            }
            '.' | ',' | '(' | ')' | ';' => {
                tokens.push(Token::Punct(c));
                i += 1;
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while at(i).is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
                    i += 1;
                }
                // PostgreSQL's E'..' strings take backslash escapes
                if i == start + 1 && matches!(c, 'e' | 'E') && at(i) == Some('\'') && !mysql {
                    i = skip_string(&chars, i, '\'', true);
                    tokens.push(Token::Other);
                } else {
                    tokens.push(Token::Word(
                        chars.get(start..i).unwrap_or_default().iter().collect(),
                    ));
                }
            }
            _ => {
                i += 1;
                tokens.push(Token::Other);
            }
        }
    }
    tokens
}

fn skip_line(chars: &[char], mut i: usize) -> usize {
    while chars.get(i).is_some_and(|c| *c != '\n') {
        i += 1;
    }
    i
}

fn skip_block_comment(chars: &[char], mut i: usize, nests: bool) -> usize {
    let mut depth = 0usize;
    while i < chars.len() {
        match (chars.get(i), chars.get(i + 1)) {
            (Some('/'), Some('*')) if depth == 0 || nests => {
                depth += 1;
                i += 2;
            }
            (Some('*'), Some('/')) => {
                depth = depth.saturating_sub(1);
                i += 2;
                if depth == 0 {
                    return i;
                }
            }
            _ => i += 1,
        }
    }
    i
}

/// Skips a literal opened at `i`; a doubled quote stays inside, as does a
/// backslash-escaped character when `backslash` is set.
fn skip_string(chars: &[char], mut i: usize, quote: char, backslash: bool) -> usize {
    i += 1;
    while let Some(c) = chars.get(i) {
        if backslash && *c == '\\' {
            i += 2;
        } else if *c == quote {
            if chars.get(i + 1) == Some(&quote) {
                i += 2;
            } else {
                return i + 1;
            }
        } else {
            i += 1;
        }
    }
    i
}

/// A quoted identifier opened at `i`, unescaped (a doubled closing quote
/// is one quote character), and the index after it.
fn quoted_ident(chars: &[char], mut i: usize, close: char) -> (String, usize) {
    let mut text = String::new();
    i += 1;
    while let Some(c) = chars.get(i) {
        if *c == close {
            if close != ']' && chars.get(i + 1) == Some(&close) {
                text.push(close);
                i += 2;
                continue;
            }
            return (text, i + 1);
        }
        text.push(*c);
        i += 1;
    }
    (text, i)
}

/// Skips a PostgreSQL dollar-quoted string (`$$..$$`, `$tag$..$tag$`), or
/// a parameter such as `$1`.
fn skip_dollar(chars: &[char], i: usize) -> usize {
    let mut j = i + 1;
    while chars
        .get(j)
        .is_some_and(|c| c.is_alphanumeric() || *c == '_')
    {
        j += 1;
    }
    let tag_is_name = chars.get(i + 1).is_none_or(|c| !c.is_ascii_digit());
    if chars.get(j) != Some(&'$') || !tag_is_name {
        return j; // a parameter
    }
    let tag = chars.get(i..=j).unwrap_or_default();
    let mut k = j + 1;
    while k < chars.len() {
        if chars.get(k..k + tag.len()) == Some(tag) {
            return k + tag.len();
        }
        k += 1;
    }
    k
}

/// The statements of a token list, split at `;` outside parentheses and
/// outside the `BEGIN .. END` bodies of DDL (triggers, procedures).
fn split_statements(tokens: &[Token]) -> Vec<&[Token]> {
    let mut statements = Vec::new();
    let mut start = 0;
    let mut parens = 0usize;
    let mut blocks = 0usize;
    let mut i = 0;
    while let Some(t) = tokens.get(i) {
        let ddl = tokens.get(start).is_some_and(is_ddl);
        match t {
            Token::Punct('(') => parens += 1,
            Token::Punct(')') => parens = parens.saturating_sub(1),
            Token::Word(_) if ddl && (t.is_kw("BEGIN") || t.is_kw("CASE")) => blocks += 1,
            Token::Word(_) if ddl && t.is_kw("END") => {
                let closes_other = tokens.get(i + 1).is_some_and(|n| {
                    n.is_kw("IF") || n.is_kw("LOOP") || n.is_kw("WHILE") || n.is_kw("REPEAT")
                });
                if !closes_other {
                    blocks = blocks.saturating_sub(1);
                }
            }
            Token::Punct(';') if parens == 0 && blocks == 0 => {
                if let Some(s) = tokens.get(start..i) {
                    statements.push(s);
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if let Some(s) = tokens.get(start..)
        && !s.is_empty()
    {
        statements.push(s);
    }
    statements
}

fn is_ddl(t: &Token) -> bool {
    ["CREATE", "ALTER", "DROP", "COMMENT", "GRANT", "REVOKE"]
        .iter()
        .any(|kw| t.is_kw(kw))
}

/// A cursor over one statement's tokens.
struct Cursor<'a> {
    tokens: &'a [Token],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<&'a Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<&'a Token> {
        let t = self.tokens.get(self.at);
        self.at += 1;
        t
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.peek().is_some_and(|t| t.is_kw(kw)) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn eat_punct(&mut self, p: char) -> bool {
        if self.peek() == Some(&Token::Punct(p)) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    /// The tokens up to the `)` that closes a `(` just eaten, and moves past it.
    fn parenthesized(&mut self) -> &'a [Token] {
        let start = self.at;
        let mut depth = 1usize;
        while let Some(t) = self.next() {
            match t {
                Token::Punct('(') => depth += 1,
                Token::Punct(')') => {
                    depth -= 1;
                    if depth == 0 {
                        return self.tokens.get(start..self.at - 1).unwrap_or_default();
                    }
                }
                _ => {}
            }
        }
        self.tokens.get(start..).unwrap_or_default()
    }

    /// A possibly qualified name: `a`, `"a"`, `a.b`, `"s"."t"`.
    fn name(&mut self) -> Option<TableName> {
        let mut parts = Vec::new();
        loop {
            let part = match self.peek()? {
                Token::Word(w) if parts.is_empty() && is_stop_word(w) => return None,
                Token::Word(w) => Part {
                    text: w.clone(),
                    quoted: false,
                },
                Token::Quoted(q) => Part {
                    text: q.clone(),
                    quoted: true,
                },
                _ => break,
            };
            self.at += 1;
            parts.push(part);
            if !self.eat_punct('.') {
                break;
            }
        }
        (!parts.is_empty()).then_some(TableName { parts })
    }

    /// Skips an optional alias (`AS a`, or a bare word that is no keyword we stop at).
    fn skip_alias(&mut self) {
        if self.eat_kw("AS") {
            self.next();
            return;
        }
        match self.peek() {
            Some(Token::Quoted(_)) => self.at += 1,
            Some(Token::Word(w)) if !is_stop_word(w) => self.at += 1,
            _ => {}
        }
    }
}

fn is_stop_word(w: &str) -> bool {
    STOP_WORDS.iter().any(|s| w.eq_ignore_ascii_case(s))
}

fn parse_statement(tokens: &[Token], writes: &mut Vec<Write>) {
    let mut c = Cursor { tokens, at: 0 };
    // a statement in parentheses, e.g. a CTE body handed back here
    while c.eat_punct('(') {}
    if c.eat_kw("WITH") {
        c.eat_kw("RECURSIVE");
        loop {
            if c.name().is_none() {
                return;
            }
            if c.eat_punct('(') {
                c.parenthesized(); // column list
            }
            if !c.eat_kw("AS") {
                return;
            }
            c.eat_kw("NOT");
            c.eat_kw("MATERIALIZED");
            if !c.eat_punct('(') {
                return;
            }
            parse_statement(c.parenthesized(), writes);
            if !c.eat_punct(',') {
                break;
            }
        }
    }
    let Some(Token::Word(head)) = c.next() else {
        return;
    };
    let head = head.to_ascii_uppercase();
    match head.as_str() {
        "INSERT" | "REPLACE" => {
            // INSERT OR REPLACE INTO, INSERT IGNORE INTO, INSERT LOW_PRIORITY INTO ...
            while let Some(t) = c.next() {
                if t.is_kw("INTO") {
                    push(&mut c, WriteKind::Insert, writes);
                    return;
                }
                if !matches!(t, Token::Word(_)) {
                    return;
                }
            }
        }
        "MERGE" if c.eat_kw("INTO") => push(&mut c, WriteKind::Update, writes),
        "UPDATE" => {
            if c.eat_kw("OR") {
                c.next(); // ROLLBACK, ABORT, REPLACE, FAIL, IGNORE
            }
            while c.eat_kw("LOW_PRIORITY") || c.eat_kw("IGNORE") || c.eat_kw("ONLY") {}
            // MySQL's multi-table form: UPDATE a, b SET .. / UPDATE a JOIN b ON .. SET
            loop {
                push(&mut c, WriteKind::Update, writes);
                c.skip_alias();
                if c.eat_punct(',') {
                    continue;
                }
                let joined = loop {
                    match c.peek() {
                        Some(t) if t.is_kw("JOIN") => {
                            c.at += 1;
                            break true;
                        }
                        Some(t) if t.is_kw("SET") => break false,
                        Some(_) => c.at += 1,
                        None => break false,
                    }
                };
                if !joined {
                    return;
                }
            }
        }
        "DELETE" => {
            while c.eat_kw("LOW_PRIORITY") || c.eat_kw("QUICK") || c.eat_kw("IGNORE") {}
            if c.eat_kw("FROM") {
                c.eat_kw("ONLY");
                push(&mut c, WriteKind::Delete, writes);
                return;
            }
            // MySQL's multi-table form: DELETE a, b FROM a JOIN b ...
            loop {
                push(&mut c, WriteKind::Delete, writes);
                // `a.*`: the name took the dot
                while matches!(c.peek(), Some(Token::Other | Token::Punct('.'))) {
                    c.at += 1;
                }
                if !c.eat_punct(',') {
                    return;
                }
            }
        }
        "TRUNCATE" => {
            c.eat_kw("TABLE");
            c.eat_kw("ONLY");
            loop {
                push(&mut c, WriteKind::Truncate, writes);
                c.eat_kw("ONLY");
                if !c.eat_punct(',') {
                    return;
                }
                c.eat_kw("ONLY");
            }
        }
        _ => {}
    }
}

fn push(c: &mut Cursor<'_>, kind: WriteKind, writes: &mut Vec<Write>) {
    if let Some(table) = c.name() {
        writes.push(Write { kind, table });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tables(sql: &str, backend: DbBackend) -> Vec<(WriteKind, String)> {
        written_tables(sql, backend)
            .into_iter()
            .map(|w| {
                let parts: Vec<String> = w.table.parts.into_iter().map(|p| p.text).collect();
                (w.kind, parts.join("."))
            })
            .collect()
    }

    fn pg(sql: &str) -> Vec<(WriteKind, String)> {
        tables(sql, DbBackend::Postgres)
    }

    fn my(sql: &str) -> Vec<(WriteKind, String)> {
        tables(sql, DbBackend::MySql)
    }

    fn lite(sql: &str) -> Vec<(WriteKind, String)> {
        tables(sql, DbBackend::Sqlite)
    }

    use WriteKind::*;

    fn w(kind: WriteKind, t: &str) -> (WriteKind, String) {
        (kind, t.to_owned())
    }

    #[test]
    fn the_four_writes_as_sea_query_builds_them() {
        assert_eq!(
            pg(r#"INSERT INTO "posts" ("title") VALUES ($1) RETURNING "id""#),
            [w(Insert, "posts")]
        );
        assert_eq!(
            pg(r#"UPDATE "posts" SET "title" = $1 WHERE "posts"."id" = $2"#),
            [w(Update, "posts")]
        );
        assert_eq!(
            pg(r#"DELETE FROM "posts" WHERE "posts"."id" = $1"#),
            [w(Delete, "posts")]
        );
        assert_eq!(my("UPDATE `posts` SET `title` = ?"), [w(Update, "posts")]);
        assert_eq!(
            pg("TRUNCATE TABLE a, ONLY b"),
            [w(Truncate, "a"), w(Truncate, "b")]
        );
    }

    #[test]
    fn reads_are_not_writes() {
        assert!(pg(r#"SELECT * FROM "posts" WHERE "id" = 1 FOR UPDATE"#).is_empty());
        assert!(pg("SELECT * FROM posts FOR NO KEY UPDATE OF posts").is_empty());
        assert!(pg("SELECT update, delete FROM updates").is_empty());
        assert!(my("SELECT * FROM t LOCK IN SHARE MODE").is_empty());
        assert!(pg("SELECT REPLACE(name, 'a', 'b') FROM t").is_empty());
    }

    #[test]
    fn upserts_write_only_their_insert_target() {
        assert_eq!(
            pg(r#"INSERT INTO "a" ("id") VALUES (1) ON CONFLICT ("id") DO UPDATE SET "x" = 1"#),
            [w(Insert, "a")]
        );
        assert_eq!(
            my("INSERT INTO `a` (`id`) VALUES (1) ON DUPLICATE KEY UPDATE `x` = 1"),
            [w(Insert, "a")]
        );
        assert_eq!(
            lite("INSERT OR REPLACE INTO a VALUES (1)"),
            [w(Insert, "a")]
        );
        assert_eq!(my("REPLACE INTO a VALUES (1)"), [w(Insert, "a")]);
        assert_eq!(my("INSERT IGNORE INTO a VALUES (1)"), [w(Insert, "a")]);
        assert_eq!(lite("UPDATE OR IGNORE a SET x = 1"), [w(Update, "a")]);
        assert_eq!(pg("INSERT INTO a SELECT * FROM b"), [w(Insert, "a")]);
    }

    #[test]
    fn qualified_and_quoted_names() {
        assert_eq!(
            pg(r#"UPDATE "app"."posts" SET x = 1"#),
            [w(Update, "app.posts")]
        );
        assert_eq!(pg("update App.Posts set x = 1"), [w(Update, "App.Posts")]);
        assert_eq!(my("DELETE FROM `db`.`posts`"), [w(Delete, "db.posts")]);
        assert_eq!(lite("DELETE FROM [my posts]"), [w(Delete, "my posts")]);
        assert_eq!(pg("UPDATE ONLY posts SET x = 1"), [w(Update, "posts")]);
    }

    #[test]
    fn hostile_identifiers() {
        // the test suite's own table: odd "t"; select
        assert_eq!(
            pg(r#"UPDATE "odd ""t""; select" SET "x" = 1"#),
            [w(Update, r#"odd "t"; select"#)]
        );
        assert_eq!(
            my(r#"DELETE FROM `odd "t"; select` WHERE 1"#),
            [w(Delete, r#"odd "t"; select"#)]
        );
        assert_eq!(my("UPDATE `a``b` SET x = 1"), [w(Update, "a`b")]);
        assert_eq!(
            pg(r#"INSERT INTO "update ""x"" -- " VALUES (1)"#),
            [w(Insert, r#"update "x" -- "#)]
        );
        assert_eq!(pg(r#"UPDATE "a.b" SET x = 1"#), [w(Update, "a.b")]);
    }

    #[test]
    fn literals_and_comments_hide_keywords() {
        assert!(pg("SELECT 'x; UPDATE posts SET a = 1'").is_empty());
        assert!(pg("SELECT 'it''s; DELETE FROM posts'").is_empty());
        assert!(pg("SELECT E'\\'; DELETE FROM posts'").is_empty());
        assert!(pg("SELECT $$; DELETE FROM posts $$").is_empty());
        assert!(pg("SELECT $tag$ $$; DELETE FROM posts $tag$").is_empty());
        assert!(my(r#"SELECT "x; DELETE FROM posts""#).is_empty());
        assert!(my(r"SELECT 'a\'; DELETE FROM posts'").is_empty());
        assert!(my("SELECT 1 # ; DELETE FROM posts").is_empty());
        assert!(pg("SELECT 1 -- ; DELETE FROM posts").is_empty());
        assert!(pg("SELECT 1 /* /* ; */ DELETE FROM posts */").is_empty());
        assert_eq!(
            pg("/* a comment */ -- another\n UPDATE posts SET a = 'DELETE FROM x'"),
            [w(Update, "posts")]
        );
        assert_eq!(pg("SELECT $1; DELETE FROM posts"), [w(Delete, "posts")]);
        assert_eq!(
            my("SELECT 1 /* ; */; DELETE FROM posts"),
            [w(Delete, "posts")]
        );
    }

    #[test]
    fn every_statement_of_a_batch() {
        assert_eq!(
            pg("BEGIN; UPDATE a SET x = 1; select 1; DELETE FROM b; COMMIT"),
            [w(Update, "a"), w(Delete, "b")]
        );
    }

    #[test]
    fn with_clauses() {
        assert_eq!(
            pg("WITH old AS (SELECT id FROM a WHERE x) UPDATE b SET y = 1 FROM old"),
            [w(Update, "b")]
        );
        assert_eq!(
            pg("WITH RECURSIVE r (n) AS (SELECT 1 UNION SELECT n + 1 FROM r) DELETE FROM c"),
            [w(Delete, "c")]
        );
        assert_eq!(
            pg(
                "WITH moved AS (DELETE FROM a RETURNING *), x AS NOT MATERIALIZED (SELECT 1) \
                INSERT INTO b SELECT * FROM moved"
            ),
            [w(Delete, "a"), w(Insert, "b")]
        );
        assert!(pg("WITH a AS (SELECT 1) SELECT * FROM a FOR UPDATE").is_empty());
    }

    #[test]
    fn multi_table_forms() {
        assert_eq!(
            my("UPDATE a AS x JOIN b ON x.id = b.id SET x.v = b.v"),
            [w(Update, "a"), w(Update, "b")]
        );
        assert_eq!(
            my("UPDATE a x, b y SET x.v = 1"),
            [w(Update, "a"), w(Update, "b")]
        );
        assert_eq!(
            my("DELETE a, b FROM a JOIN b ON a.id = b.id"),
            [w(Delete, "a"), w(Delete, "b")]
        );
        assert_eq!(
            pg("DELETE FROM a USING b WHERE a.id = b.id"),
            [w(Delete, "a")]
        );
    }

    #[test]
    fn ddl_and_trigger_bodies_are_skipped() {
        assert!(
            lite("CREATE TRIGGER t AFTER UPDATE ON a BEGIN UPDATE b SET x = 1; DELETE FROM c; END")
                .is_empty()
        );
        assert!(
            my("CREATE PROCEDURE p() BEGIN IF 1 THEN UPDATE b SET x = 1; END IF; DELETE FROM c; END")
                .is_empty()
        );
        assert_eq!(
            lite("CREATE TRIGGER t AFTER DELETE ON a BEGIN DELETE FROM c; END; DELETE FROM d"),
            [w(Delete, "d")]
        );
        assert!(pg("CREATE TABLE a (x int REFERENCES b ON UPDATE CASCADE)").is_empty());
        assert!(pg("GRANT UPDATE, DELETE ON a TO bob").is_empty());
    }

    #[test]
    fn names_match_content_types() {
        let name = |sql: &str| written_tables(sql, DbBackend::Postgres).remove(0).table;
        assert!(name(r#"UPDATE "posts" SET x = 1"#).matches("posts"));
        assert!(!name(r#"UPDATE "Posts" SET x = 1"#).matches("posts"));
        assert!(name("UPDATE Posts SET x = 1").matches("posts"));
        assert!(name(r#"UPDATE "app"."posts" SET x = 1"#).matches("app.posts"));
        assert!(name(r#"UPDATE "app"."posts" SET x = 1"#).matches("posts"));
        assert!(name(r#"UPDATE "posts" SET x = 1"#).matches("app.posts"));
        assert!(!name(r#"UPDATE "other"."posts" SET x = 1"#).matches("app.posts"));
        assert!(!name(r#"UPDATE "posts2" SET x = 1"#).matches("posts"));
    }

    #[test]
    fn garbage_does_not_panic() {
        for sql in [
            "",
            ";",
            "UPDATE",
            "INSERT INTO",
            "DELETE FROM (",
            "WITH",
            "WITH a AS (",
            "'",
            "\"",
            "`",
            "$$",
            "$a$",
            "/*",
            "--",
            "[",
            "UPDATE \"",
            "TRUNCATE ,",
            "E'",
            "é UPDATE ü",
        ] {
            for backend in [DbBackend::Postgres, DbBackend::MySql, DbBackend::Sqlite] {
                let _ = written_tables(sql, backend);
            }
        }
    }
}
