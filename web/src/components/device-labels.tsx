// A device's labels as the web app shows and picks them (issue 31): tags as chips, a box that adds one on
// Enter, a condition on an attribute as the devices list writes it (key:op:value), and the scope of a rule,
// route or silence made of them (ScopeFields), all said in words by describeSelector.
import { useState, type KeyboardEvent } from 'react';
import {
  ATTRIBUTE_OPS,
  conditionFromText,
  conditionToText,
  describeSelector,
  scopeOf,
  type DeviceSelector,
} from '../lib/selector';

/** Tags as chips; with onRemove, each has a button that takes it off. */
export function TagChips({ tags, onRemove }: { tags: string[]; onRemove?: (tag: string) => void }) {
  return (
    <span className="flex flex-wrap gap-1" data-testid="tags">
      {tags.map((tag) => (
        <span
          key={tag}
          className="inline-flex items-center gap-1 rounded-full bg-indigo-50 px-2 py-0.5 text-xs text-indigo-700 dark:bg-indigo-950 dark:text-indigo-300"
        >
          {tag}
          {onRemove && (
            <button type="button" aria-label={`Remove ${tag}`} onClick={() => onRemove(tag)}>
              ×
            </button>
          )}
        </span>
      ))}
    </span>
  );
}

/** Adds what is typed to a list on Enter (a tag, a filter), and clears the box. */
export function AddOnEnter({
  label,
  placeholder,
  onAdd,
  list,
}: {
  label: string;
  placeholder: string;
  onAdd: (text: string) => void;
  /** The id of a <datalist> of suggestions. */
  list?: string;
}) {
  const [text, setText] = useState('');
  return (
    <input
      className="input max-w-48"
      aria-label={label}
      placeholder={placeholder}
      list={list}
      value={text}
      onChange={(e) => setText(e.target.value)}
      onKeyDown={(e) => {
        if (e.key !== 'Enter') return;
        e.preventDefault();
        if (text.trim()) onAdd(text.trim());
        setText('');
      }}
    />
  );
}

/**
 * A condition on an attribute, key:op:value as the API reads it (one_of: values separated by |), added by
 * the button or Enter. No <form> of its own: it sits inside the forms of rules, routes and silences.
 */
export function AttributeFilter({ onAdd, action = 'Filter' }: { onAdd: (condition: string) => void; action?: string }) {
  const [key, setKey] = useState('');
  const [op, setOp] = useState('eq');
  const [value, setValue] = useState('');
  const add = () => {
    if (!key.trim()) return;
    onAdd(op === 'exists' ? `${key.trim()}:exists` : `${key.trim()}:${op}:${value.trim()}`);
    setValue('');
  };
  const onEnter = (event: KeyboardEvent) => {
    if (event.key !== 'Enter') return;
    event.preventDefault();
    add();
  };
  return (
    <div className="flex flex-wrap gap-1" role="group" aria-label="Attribute filter">
      <input
        className="input max-w-32"
        aria-label="Attribute"
        placeholder="attribute"
        value={key}
        onChange={(e) => setKey(e.target.value)}
        onKeyDown={onEnter}
      />
      <select className="input max-w-20" aria-label="Comparison" value={op} onChange={(e) => setOp(e.target.value)}>
        {ATTRIBUTE_OPS.map((operator) => (
          <option key={operator}>{operator}</option>
        ))}
      </select>
      {op !== 'exists' && (
        <input
          className="input max-w-32"
          aria-label="Compare with"
          placeholder={op === 'one_of' ? 'a|b' : 'value'}
          value={value}
          onChange={(e) => setValue(e.target.value)}
          onKeyDown={onEnter}
        />
      )}
      <button type="button" className="btn-ghost" onClick={add}>
        {action}
      </button>
    </div>
  );
}

/** A list of tags: chips to remove, and a box to add one (lower case, once). */
function TagList({ label, tags, onChange }: { label: string; tags: string[]; onChange: (tags: string[]) => void }) {
  return (
    <div className="flex flex-wrap items-center gap-2">
      <AddOnEnter
        label={label}
        placeholder={`${label.toLowerCase()} (Enter)`}
        onAdd={(added) => onChange([...new Set([...tags, added.toLowerCase()])])}
      />
      <TagChips tags={tags} onRemove={(removed) => onChange(tags.filter((tag) => tag !== removed))} />
    </div>
  );
}

/**
 * Which devices a rule, route or silence covers beyond its own fields: tags (any, all), attribute
 * conditions and, where the form has no such field, an id prefix. All given must hold.
 */
export function ScopeFields({
  value,
  onChange,
  withPrefix = false,
}: {
  value: DeviceSelector;
  onChange: (selector: DeviceSelector) => void;
  withPrefix?: boolean;
}) {
  const conditions = value.attributes ?? [];
  return (
    <fieldset className="col-span-full min-w-0 space-y-2 text-sm" aria-label="Device scope">
      <legend className="label">Devices with (all that is given must hold)</legend>
      {withPrefix && (
        <input
          className="input max-w-48"
          aria-label="Device id prefix"
          placeholder="id prefix, e.g. pump-"
          value={value.device_prefix ?? ''}
          onChange={(e) => onChange({ ...value, device_prefix: e.target.value.trim() || undefined })}
        />
      )}
      <TagList
        label="Any of these tags"
        tags={value.tags_any ?? []}
        onChange={(tags) => onChange({ ...value, tags_any: tags })}
      />
      <TagList
        label="All of these tags"
        tags={value.tags_all ?? []}
        onChange={(tags) => onChange({ ...value, tags_all: tags })}
      />
      <AttributeFilter
        action="Add condition"
        onAdd={(text) => {
          const condition = conditionFromText(text);
          if (condition) onChange({ ...value, attributes: [...conditions, condition] });
        }}
      />
      {conditions.length > 0 && (
        <TagChips
          tags={conditions.map(conditionToText)}
          onRemove={(removed) =>
            onChange({ ...value, attributes: conditions.filter((condition) => conditionToText(condition) !== removed) })
          }
        />
      )}
      <p className="text-xs text-slate-500" data-testid="scope-words">
        {describeSelector(scopeOf(value), 'no criteria here: every device')}
      </p>
    </fieldset>
  );
}
