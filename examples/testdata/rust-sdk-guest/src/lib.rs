//! Answers with what the Rust SDK's KV calls returned, one call per path:
//!
//!   /get?key=K   the value ("len N" when longer than 64 bytes), 404 when absent
//!   /put?key=K&v=V&ttl=S, /del?key=K, /list?key=PREFIX&cursor=C&limit=N
//!   /inc?key=K   kv.update: increments a decimal counter
//!   /cas-new?key=K&v=V  compare_and_swap(K, None, V)
//!   /var?key=N   pier::secret(N)
//!   /panic?key=M panics with M (the SDK's panic hook logs it)
//!
//! A host error answers 500 with the error's code and text.

use pier::{Error, Request, Response};

fn handle(req: Request) -> Response {
    let param = |name: &str| req.query_param(name).unwrap_or_default().into_owned();
    let key = param("key");
    let store = pier::kv(if req.header("X-Binding").is_some() { "OTHER" } else { "STORE" });
    let r: Result<String, Error> = match req.path() {
        "/get" => match store.get(&key) {
            Ok(Some(v)) if v.len() > 64 => Ok(format!("len {}", v.len())),
            Ok(Some(v)) => Ok(String::from_utf8_lossy(&v).into_owned()),
            Ok(None) => return Response::not_found(),
            Err(e) => Err(e),
        },
        "/put" => store.put_with_ttl(&key, param("v"), param("ttl").parse().unwrap_or(0)).map(|_| "put".into()),
        "/del" => store.delete(&key).map(|_| "deleted".into()),
        "/list" => {
            let cursor = param("cursor");
            let cursor = if cursor.is_empty() { None } else { Some(cursor.as_str()) };
            store
                .list(&key, cursor, param("limit").parse().unwrap_or(0))
                .map(|p| format!("{} cursor={}", p.keys.join(","), p.cursor.unwrap_or_default()))
        }
        "/inc" => store
            .update(&key, |old| {
                let n: u64 = old.and_then(|v| std::str::from_utf8(v).ok()?.parse().ok()).unwrap_or(0);
                (n + 1).to_string().into_bytes()
            })
            .map(|v| String::from_utf8_lossy(&v).into_owned()),
        "/cas-new" => store.compare_and_swap(&key, None, param("v")).map(|ok| format!("written={}", ok)),
        "/var" => Ok(pier::secret(&key).unwrap_or_else(|| "unset".into())),
        "/panic" => panic!("on purpose: {}", key),
        _ => return Response::next(),
    };
    match r {
        Ok(body) => Response::text(body),
        Err(e) => Response::text(format!("{} {}", e.code(), e)).status(500),
    }
}

pier::handler!(handle);
