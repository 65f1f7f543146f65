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

pub(crate) fn test(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let mut backends: Vec<(String, Span)> = BACKENDS
        .iter()
        .map(|b| (b.to_string(), Span::call_site()))
        .collect();
    let mut timeout = quote!(60u64);
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
            Meta::NameValue(nv) if nv.path.is_ident("timeout") => match &nv.value {
                Expr::Lit(ExprLit {
                    lit: Lit::Int(i), ..
                }) => {
                    let secs: u64 = i.base10_parse()?;
                    if secs == 0 {
                        return Err(syn::Error::new_spanned(i, "the timeout must be positive"));
                    }
                    timeout = quote!(#secs);
                }
                other => {
                    return Err(syn::Error::new_spanned(
                        other,
                        "expected a number of seconds such as `timeout = 30`",
                    ));
                }
            },
            other => {
                return Err(syn::Error::new_spanned(
                    other,
                    "unknown option: expected `backends = [...]` or `timeout = <seconds>`",
                ));
            }
        }
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
                    ::anyio::testing::__run_test(
                        #path,
                        ::core::time::Duration::from_secs(#timeout),
                        super::#name,
                    );
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
