// A dashboard's widgets on a 12-column grid (react-grid-layout: moved by the title bar and resized by the
// corner while editing), each with its title and the resolution its data came from. On a narrow screen the
// widgets stack in reading order, each the full width.
import { useEffect } from 'react';
import ReactGridLayout, { useContainerWidth, type Layout } from 'react-grid-layout';
import 'react-grid-layout/css/styles.css';
import { RESOLUTION_TEXT, type DashboardData, type Widget } from '../../lib/dashboards';
import { preloadWidgetCode, WidgetBody } from './WidgetBody';

const ROW_HEIGHT = 56;
/** Below this width the grid's columns get too narrow to read: widgets stack. */
const STACK_BELOW_PX = 640;

function WidgetFrame({
  widget,
  data,
  fetching,
  editing,
  shared,
  onEdit,
  onRemove,
}: {
  widget: Widget;
  data: DashboardData | undefined;
  /** A newer answer is on its way (the one shown is for an earlier range or variable). */
  fetching: boolean;
  editing: boolean;
  shared: boolean;
  onEdit?: (widget: Widget) => void;
  onRemove?: (widget: Widget) => void;
}) {
  const answer = data?.widgets[widget.id];
  const resolution = answer?.resolution;
  const drawn = widget.type === 'text' || (answer !== undefined && !fetching);
  return (
    <section
      className="card flex h-full min-h-0 flex-col gap-1 overflow-hidden !p-2"
      data-widget={widget.id}
      data-widget-type={widget.type}
      data-state={drawn ? 'drawn' : 'loading'}
      aria-label={widget.title || widget.type}
    >
      <header className={`flex items-center gap-2 ${editing ? 'widget-handle cursor-move' : ''}`}>
        <h2 className="truncate text-sm font-semibold">{widget.title}</h2>
        {resolution && (
          <span
            className="ml-auto rounded bg-slate-100 px-1 text-[10px] text-slate-500 dark:bg-slate-800"
            title="the data this widget was drawn from"
            data-testid="resolution"
          >
            {RESOLUTION_TEXT[resolution]}
          </span>
        )}
        {editing && (
          <span className={`${resolution ? '' : 'ml-auto'} flex gap-1`}>
            <button
              className="btn-ghost !px-1 text-xs"
              onClick={() => onEdit?.(widget)}
              aria-label={`Edit ${widget.id}`}
            >
              ✎
            </button>
            <button
              className="btn-ghost !px-1 text-xs text-rose-600"
              onClick={() => onRemove?.(widget)}
              aria-label={`Remove ${widget.id}`}
            >
              ✕
            </button>
          </span>
        )}
      </header>
      <div className="min-h-0 flex-1 overflow-auto">
        <WidgetBody widget={widget} data={answer} range={data} shared={shared} />
      </div>
    </section>
  );
}

export function DashboardBoard({
  widgets,
  data,
  fetching = false,
  editing = false,
  shared = false,
  onLayout,
  onEdit,
  onRemove,
}: {
  widgets: Widget[];
  data: DashboardData | undefined;
  fetching?: boolean;
  editing?: boolean;
  shared?: boolean;
  /** Told the widgets' new places after a move or resize. */
  onLayout?: (layout: Layout) => void;
  onEdit?: (widget: Widget) => void;
  onRemove?: (widget: Widget) => void;
}) {
  const { width, containerRef, mounted } = useContainerWidth();
  useEffect(() => preloadWidgetCode(widgets), [widgets]);
  const frame = (widget: Widget) => (
    <WidgetFrame
      widget={widget}
      data={data}
      fetching={fetching}
      editing={editing}
      shared={shared}
      onEdit={onEdit}
      onRemove={onRemove}
    />
  );
  const stacked = mounted && width < STACK_BELOW_PX;
  const ordered = [...widgets].sort((a, b) => a.layout.y - b.layout.y || a.layout.x - b.layout.x);
  return (
    <div ref={containerRef} data-testid="dashboard-grid" data-layout={stacked ? 'stacked' : 'grid'}>
      {stacked ? (
        <div className="space-y-3">
          {ordered.map((widget) => (
            <div key={widget.id} style={{ height: Math.max(widget.layout.h * ROW_HEIGHT, 140) }}>
              {frame(widget)}
            </div>
          ))}
        </div>
      ) : (
        mounted && (
          <ReactGridLayout
            width={width}
            layout={widgets.map((widget) => ({ i: widget.id, ...widget.layout }))}
            gridConfig={{ cols: 12, rowHeight: ROW_HEIGHT, margin: [12, 12] }}
            dragConfig={{ enabled: editing, handle: '.widget-handle', cancel: 'button' }}
            resizeConfig={{ enabled: editing }}
            onLayoutChange={(layout) => editing && onLayout?.(layout)}
          >
            {widgets.map((widget) => (
              <div key={widget.id}>{frame(widget)}</div>
            ))}
          </ReactGridLayout>
        )
      )}
    </div>
  );
}
