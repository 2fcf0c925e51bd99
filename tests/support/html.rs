//! What a browser would build from an HTML string, reduced to what matters for XSS: every
//! element the HTML5 tree builder creates (html5ever, the parser ammonia uses), with its
//! namespace and attributes. Sanitised output is checked by parsing it again, the way a
//! subscriber's browser or feed reader will: mutation XSS is markup that turns into
//! something else on that second parse (`<svg><style>`, `<math><mtext><table>`…), so
//! looking at the string is not enough. Elements are recorded when created, even if the
//! tree builder moves or drops them later, which can only make the check stricter.

use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;

use html5ever::interface::{ElementFlags, NodeOrText, QuirksMode, TreeSink};
use html5ever::tendril::{StrTendril, TendrilSink};
use html5ever::{local_name, ns, Attribute, QualName};

/// One created element: namespace (`html`, `svg`, `math`), local name, attributes.
#[derive(Debug, Clone)]
pub struct Element {
    pub ns: String,
    pub name: String,
    pub attrs: Vec<(String, String)>,
}

#[derive(Debug)]
struct Node {
    name: QualName,
    integration_point: bool,
}

type Handle = Rc<Node>;

struct Recorder {
    document: Handle,
    created: RefCell<Vec<Element>>,
}

impl TreeSink for Recorder {
    type Handle = Handle;
    type Output = Vec<Element>;
    type ElemName<'a> = &'a QualName;

    fn finish(self) -> Vec<Element> {
        self.created.into_inner()
    }
    fn parse_error(&self, _msg: Cow<'static, str>) {}
    fn get_document(&self) -> Handle {
        Rc::clone(&self.document)
    }
    fn elem_name<'a>(&'a self, target: &'a Handle) -> &'a QualName {
        &target.name
    }
    fn create_element(&self, name: QualName, attrs: Vec<Attribute>, flags: ElementFlags) -> Handle {
        let ns = match &name.ns {
            n if *n == ns!(svg) => "svg",
            n if *n == ns!(mathml) => "math",
            n if *n == ns!(html) => "html",
            _ => "other",
        };
        self.created.borrow_mut().push(Element {
            ns: ns.to_string(),
            name: name.local.to_string(),
            attrs: attrs
                .iter()
                .map(|a| (a.name.local.to_string(), a.value.to_string()))
                .collect(),
        });
        Rc::new(Node {
            name,
            integration_point: flags.mathml_annotation_xml_integration_point,
        })
    }
    fn create_comment(&self, _text: StrTendril) -> Handle {
        self.placeholder()
    }
    fn create_pi(&self, _target: StrTendril, _data: StrTendril) -> Handle {
        self.placeholder()
    }
    fn append(&self, _parent: &Handle, _child: NodeOrText<Handle>) {}
    fn append_based_on_parent_node(
        &self,
        _element: &Handle,
        _prev_element: &Handle,
        _child: NodeOrText<Handle>,
    ) {
    }
    fn append_doctype_to_document(&self, _: StrTendril, _: StrTendril, _: StrTendril) {}
    fn get_template_contents(&self, target: &Handle) -> Handle {
        Rc::clone(target)
    }
    fn same_node(&self, x: &Handle, y: &Handle) -> bool {
        Rc::ptr_eq(x, y)
    }
    fn set_quirks_mode(&self, _mode: QuirksMode) {}
    fn append_before_sibling(&self, _sibling: &Handle, _new_node: NodeOrText<Handle>) {}
    fn add_attrs_if_missing(&self, _target: &Handle, attrs: Vec<Attribute>) {
        // `<html onload>` or `<body onload>` met twice: the attributes still land.
        self.created.borrow_mut().push(Element {
            ns: "html".into(),
            name: "(merged attributes)".into(),
            attrs: attrs
                .iter()
                .map(|a| (a.name.local.to_string(), a.value.to_string()))
                .collect(),
        });
    }
    fn remove_from_parent(&self, _target: &Handle) {}
    fn reparent_children(&self, _node: &Handle, _new_parent: &Handle) {}
    fn is_mathml_annotation_xml_integration_point(&self, handle: &Handle) -> bool {
        handle.integration_point
    }
}

impl Recorder {
    fn placeholder(&self) -> Handle {
        Rc::new(Node {
            name: QualName::new(None, ns!(), local_name!("")),
            integration_point: false,
        })
    }
}

/// Every element a browser creates for `html` parsed as the body of a document.
pub fn elements(html: &str) -> Vec<Element> {
    let sink = Recorder {
        document: Rc::new(Node {
            name: QualName::new(None, ns!(), local_name!("")),
            integration_point: false,
        }),
        created: RefCell::new(Vec::new()),
    };
    html5ever::parse_document(sink, Default::default()).one(html)
}

/// Why `html`, once parsed by a browser, could run script or load a hostile URL: a list
/// of findings, empty when it is inert.
pub fn dangers(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in elements(html) {
        if matches!(
            e.name.as_str(),
            "script" | "iframe" | "object" | "embed" | "frame" | "base" | "form"
        ) || (e.ns != "html" && e.name != "(merged attributes)")
            // A page's own <meta> is fine; one that refreshes to elsewhere is not.
            || (e.name == "meta" && e.attrs.iter().any(|(n, _)| n == "http-equiv"))
        {
            found.push(format!("element {}:{}", e.ns, e.name));
        }
        for (name, value) in &e.attrs {
            let lower = name.to_ascii_lowercase();
            if lower.starts_with("on") || lower == "style" || lower == "srcdoc" {
                found.push(format!("attribute {lower} on {}", e.name));
            }
            if bad_scheme(value) {
                found.push(format!("{lower}={value:?} on {}", e.name));
            }
        }
    }
    found
}

/// Whether a URL, as a browser reads it (ASCII whitespace and control characters
/// removed, case folded), uses a scheme that runs code or embeds a document.
pub fn bad_scheme(value: &str) -> bool {
    let folded: String = value
        .chars()
        .filter(|c| !(c.is_ascii_whitespace() || c.is_ascii_control()))
        .collect::<String>()
        .to_ascii_lowercase();
    ["javascript:", "vbscript:", "data:"]
        .iter()
        .any(|s| folded.starts_with(s))
}
