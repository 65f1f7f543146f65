//! Parsing and expansion of the entry-point attributes.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprArray, ExprLit, ItemFn, Lit, Meta, Token};

const BACKENDS: &[&str] = &["tokio", "smol"];

fn backend_path(name: &str, span: Span) -> syn::Result<TokenStream> {
    match name {
        "tokio" => Ok(quote!(::anyio::Backend::Tokio)),
        "smol" => Ok(quote!(::anyio::Backend::Smol)),
        other => Err(syn::Error::new(
            span,
            format!("unknown backend `{other}` (available: tokio, smol)"),
        )),
    }
}

fn parse_args(args: TokenStream) -> syn::Result<Vec<Meta>> {
    let parser = Punctuated::<Meta, Token![,]>::parse_terminated;
    Ok(parser.parse2(args)?.into_iter().collect())
}

fn string_lit(expr: &Expr) -> syn::Result<(String, Span)> {
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Ok((s.value(), s.span())),
        other => Err(syn::Error::new_spanned(other, "expected a string literal")),
    }
}

fn check_async(item: &ItemFn) -> syn::Result<()> {
    if item.sig.asyncness.is_none() {
        return Err(syn::Error::new_spanned(
            item.sig.fn_token,
            "the function must be `async fn`",
        ));
    }
    if !item.sig.inputs.is_empty() {
        return Err(syn::Error::new_spanned(
            &item.sig.inputs,
            "the function must take no arguments",
        ));
    }
    Ok(())
}

/// The error, plus an empty function of the same name, so that the error is the only one
/// reported (without it, a missing `main` would be reported too).
pub(crate) fn error_with_stub(error: syn::Error, item: TokenStream) -> TokenStream {
    let error = error.into_compile_error();
    match syn::parse2::<ItemFn>(item) {
        Ok(f) => {
            let name = &f.sig.ident;
            quote! { #error fn #name() {} }
        }
        Err(_) => error,
    }
}

pub(crate) fn main(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let mut backend = quote!(::core::default::Default::default());
    for meta in parse_args(args)? {
        match &meta {
            Meta::NameValue(nv) if nv.path.is_ident("backend") => {
                let (name, span) = string_lit(&nv.value)?;
                backend = backend_path(&name, span)?;
            }
            other => {
                return Err(syn::Error::new_spanned(
                    other,
                    "unknown option: expected `backend = \"tokio\"` or `backend = \"smol\"`",
                ));
            }
        }
    }
    let item: ItemFn = syn::parse2(item)?;
    check_async(&item)?;
    let attrs = &item.attrs;
    let vis = &item.vis;
    let name = &item.sig.ident;
    let body = &item.block;
    let out = match &item.sig.output {
        syn::ReturnType::Default => quote! {
            #(#attrs)*
            #vis fn #name() {
                let runner = ::anyio::Runner::new(#backend);
                if let ::core::result::Result::Err(e) = runner.run(|| async move {
                    #body;
                    ::anyio::Result::Ok(())
                }) {
                    ::std::eprintln!("Error: {e}");
                    ::std::process::exit(1);
                }
            }
        },
        syn::ReturnType::Type(_, ty) => quote! {
            #(#attrs)*
            #vis fn #name() -> #ty {
                ::anyio::Runner::new(#backend).run(|| async move #body)
            }
        },
    };
    Ok(out)
}

/// A duration written as a string: a whole number and a unit (`ns`, `us`, `ms`, `s`).
fn parse_duration(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = text.split_at(split);
    let n: u64 = num.parse().ok()?;
    let scale: u64 = match unit.trim() {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        _ => return None,
    };
    n.checked_mul(scale)
}

fn int_lit<T>(expr: &Expr, what: &str) -> syn::Result<(T, Span)>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        }) => Ok((i.base10_parse()?, i.span())),
        other => Err(syn::Error::new_spanned(other, what)),
    }
}

const TEST_OPTIONS: &str = "unknown option: expected `backends = [...]`, `timeout = <seconds>`, \
     `flavor = \"current_thread\"`, `threads = <n>`, `virtual_time` or `autojump = \"0ms\"`";

pub(crate) fn test(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let mut backends: Vec<(String, Span)> = BACKENDS
        .iter()
        .map(|b| (b.to_string(), Span::call_site()))
        .collect();
    let mut timeout = quote!(60u64);
    let mut current_thread: Option<Span> = None;
    let mut threads: Option<(usize, Span)> = None;
    let mut virtual_time = false;
    let mut autojump: Option<u64> = None;
    for meta in parse_args(args)? {
        match &meta {
            Meta::NameValue(nv) if nv.path.is_ident("backends") => {
                let Expr::Array(ExprArray { elems, .. }) = &nv.value else {
                    return Err(syn::Error::new_spanned(
                        &nv.value,
                        "expected a list such as `backends = [\"tokio\", \"smol\"]`",
                    ));
                };
                backends = elems.iter().map(string_lit).collect::<syn::Result<_>>()?;
                if backends.is_empty() {
                    return Err(syn::Error::new_spanned(
                        &nv.value,
                        "name at least one backend",
                    ));
                }
            }
            Meta::NameValue(nv) if nv.path.is_ident("timeout") => {
                let (secs, span): (u64, Span) = int_lit(
                    &nv.value,
                    "expected a number of seconds such as `timeout = 30`",
                )?;
                if secs == 0 {
                    return Err(syn::Error::new(span, "the timeout must be positive"));
                }
                timeout = quote!(#secs);
            }
            Meta::NameValue(nv) if nv.path.is_ident("flavor") => {
                let (flavor, span) = string_lit(&nv.value)?;
                match flavor.as_str() {
                    "current_thread" => current_thread = Some(span),
                    "multi_thread" => current_thread = None,
                    _ => {
                        return Err(syn::Error::new(
                            span,
                            "unknown flavor: expected \"current_thread\" or \"multi_thread\"",
                        ));
                    }
                }
            }
            Meta::NameValue(nv) if nv.path.is_ident("threads") => {
                let (n, span): (usize, Span) = int_lit(
                    &nv.value,
                    "expected a number of threads such as `threads = 2`",
                )?;
                if n == 0 {
                    return Err(syn::Error::new(span, "a runtime needs at least 1 thread"));
                }
                threads = Some((n, span));
            }
            Meta::Path(p) if p.is_ident("virtual_time") => virtual_time = true,
            Meta::NameValue(nv) if nv.path.is_ident("autojump") => {
                let (text, span) = string_lit(&nv.value)?;
                let nanos = parse_duration(&text).ok_or_else(|| {
                    syn::Error::new(
                        span,
                        "expected a duration such as \"0ms\", \"10ms\", \"500us\" or \"1s\"",
                    )
                })?;
                autojump = Some(nanos);
            }
            other => return Err(syn::Error::new_spanned(other, TEST_OPTIONS)),
        }
    }
    if let (Some(_), Some((_, span))) = (current_thread, threads) {
        return Err(syn::Error::new(
            span,
            "`threads` sets the workers of the multi-thread flavor: drop it or `flavor = \"current_thread\"`",
        ));
    }
    let mut options = quote!(::anyio::testing::__TestOptions::new(
        ::core::time::Duration::from_secs(#timeout)
    ));
    if current_thread.is_some() {
        options = quote!(#options.current_thread());
    }
    if let Some((n, _)) = threads {
        options = quote!(#options.threads(#n));
    }
    match autojump {
        Some(nanos) => {
            options = quote!(#options.virtual_time(::core::option::Option::Some(
                ::core::time::Duration::from_nanos(#nanos)
            )));
        }
        None if virtual_time => {
            options = quote!(#options.virtual_time(::core::option::Option::None));
        }
        None => {}
    }
    let mut item: ItemFn = syn::parse2(item)?;
    check_async(&item)?;
    // Test attributes (#[ignore], #[should_panic], ...) go on the generated tests; docs
    // and lints stay on the function.
    let (keep, forward): (Vec<_>, Vec<_>) = item.attrs.drain(..).partition(|a| {
        a.path().is_ident("doc") || a.path().is_ident("allow") || a.path().is_ident("expect")
    });
    item.attrs = keep;
    let name = &item.sig.ident;
    let mut tests = Vec::new();
    for (backend, span) in &backends {
        let path = backend_path(backend, *span)?;
        let test_name = format_ident!("{}", backend);
        let gate = format_ident!("__if_{}", backend);
        tests.push(quote! {
            ::anyio::#gate! {
                #[test]
                #(#forward)*
                fn #test_name() {
                    ::anyio::testing::__run_test(#path, #options, super::#name);
                }
            }
        });
    }
    Ok(quote! {
        #[allow(dead_code)]
        #item

        #[allow(non_snake_case)]
        mod #name {
            #(#tests)*
        }
    })
}
